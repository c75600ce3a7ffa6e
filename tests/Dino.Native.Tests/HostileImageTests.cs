using System.IO.Compression;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats;
using SixLabors.ImageSharp.Formats.Gif;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Pbm;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.Formats.Tga;
using SixLabors.ImageSharp.Formats.Tiff;
using SixLabors.ImageSharp.Formats.Webp;
using SixLabors.ImageSharp.PixelFormats;
using Xunit.Abstractions;

namespace Dino.Tests;

/// <summary>Broken, hostile and unusual images: typed errors for the bad, correct embeddings for the valid.</summary>
[Collection("models")]
public class HostileImageTests(ModelFixture models, ITestOutputHelper output)
{
    private DinoModel M => models.Tiny;

    private static byte[] Encode(IImageEncoder encoder, int w = 64, int h = 48)
    {
        using var img = new Image<Rgb24>(w, h);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                img[x, y] = new Rgb24((byte)(x * 4), (byte)(y * 5), (byte)((x + y) * 2));
        using var s = new MemoryStream();
        img.Save(s, encoder);
        return s.ToArray();
    }

    private static byte[] Chunk(string type, byte[] data)
    {
        var body = System.Text.Encoding.ASCII.GetBytes(type).Concat(data).ToArray();
        uint crc = Crc32(body);
        return BigEndian((uint)data.Length).Concat(body).Concat(BigEndian(crc)).ToArray();
    }

    private static byte[] BigEndian(uint v) => new[] { (byte)(v >> 24), (byte)(v >> 16), (byte)(v >> 8), (byte)v };

    private static uint Crc32(byte[] data)
    {
        uint c = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            c ^= b;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320 ^ (c >> 1) : c >> 1;
        }
        return ~c;
    }

    /// <summary>A grayscale PNG header of w x h with rows of zeros, deflated: tiny file, huge image.</summary>
    private static byte[] PngBomb(int w, int h)
    {
        var ihdr = BigEndian((uint)w).Concat(BigEndian((uint)h)).Concat(new byte[] { 8, 0, 0, 0, 0 }).ToArray();
        using var z = new MemoryStream();
        using (var zs = new ZLibStream(z, CompressionLevel.SmallestSize, leaveOpen: true))
        {
            var row = new byte[w + 1];
            for (int y = 0; y < h; y++) zs.Write(row);
        }
        byte[] sig = { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A };
        return sig.Concat(Chunk("IHDR", ihdr)).Concat(Chunk("IDAT", z.ToArray())).Concat(Chunk("IEND", System.Array.Empty<byte>())).ToArray();
    }

    public static TheoryData<string> BrokenNames() => new() { "png", "jpeg", "gif", "webp" };

    private static IImageEncoder EncoderFor(string name) => name switch
    {
        "png" => new PngEncoder(),
        "jpeg" => new JpegEncoder(),
        "gif" => new GifEncoder(),
        "webp" => new WebpEncoder(),
        _ => new SixLabors.ImageSharp.Formats.Bmp.BmpEncoder(),
    };

    [Theory]
    [MemberData(nameof(BrokenNames))]
    public void EmptyAndTruncatedFilesAreRefused(string format)
    {
        byte[] good = Encode(EncoderFor(format));
        Assert.Equal(M.Info.EmbeddingLength, M.Embed(good).Dimensions);  // the untruncated file embeds
        foreach (int len in new[] { 0, 1, 8, 20, good.Length / 3, good.Length / 2, good.Length - 10, good.Length - 1 })
        {
            var e = Assert.Throws<DinoImageException>(() => M.Preprocess(good.AsMemory(0, len)));
            output.WriteLine($"{format} cut to {len} of {good.Length} bytes: {e.Message}");
        }
        Assert.Throws<DinoImageException>(() => M.Preprocess(System.Array.Empty<byte>()));
        Assert.Throws<DinoImageException>(() => M.Preprocess(good.AsMemory(0, 8)));
    }

    [Fact]
    public void HugeHeadersAndBombsAreRefusedBeforeDecoding()
    {
        var e = Assert.Throws<DinoImageException>(() => M.Preprocess(Header65535()));
        Assert.Contains("MaxPixels", e.Message);
        byte[] bomb = PngBomb(12000, 12000);  // 144 M pixels in a small file
        output.WriteLine($"bomb: {bomb.Length} bytes for 12000 x 12000");
        e = Assert.Throws<DinoImageException>(() => M.Preprocess(bomb));
        Assert.Contains("MaxPixels", e.Message);
        // Under the pixel limit, but over a small decode budget: refused while decoding.
        using var m = DinoModel.Load(TestData.Data("tiny-hf-f32.gguf"), new DinoModelOptions { ImageLimits = new ImageLimits { MaxDecodeBytes = 4 << 20 } });
        e = Assert.Throws<DinoImageException>(() => m.Preprocess(PngBomb(3000, 3000)));
        Assert.Contains("MaxDecodeBytes", e.Message);
    }

    private static byte[] Header65535()
    {
        byte[] sig = { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A };
        var ihdr = BigEndian(65535).Concat(BigEndian(65535)).Concat(new byte[] { 8, 2, 0, 0, 0 }).ToArray();
        return sig.Concat(Chunk("IHDR", ihdr)).Concat(Chunk("IDAT", new byte[] { 0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01 }))
                  .Concat(Chunk("IEND", System.Array.Empty<byte>())).ToArray();
    }

    [Fact]
    public void AManyFrameGifCostsOneFrame()
    {
        using var img = new Image<Rgb24>(64, 64);
        for (int i = 1; i < 300; i++)
        {
            using var frame = new Image<Rgb24>(64, 64, new Rgb24((byte)i, 0, 0));
            img.Frames.AddFrame(frame.Frames.RootFrame);
        }
        using var s = new MemoryStream();
        img.SaveAsGif(s);
        var sw = System.Diagnostics.Stopwatch.StartNew();
        var t = M.Preprocess(s.ToArray());
        output.WriteLine($"300-frame GIF ({s.Length} bytes) preprocessed in {sw.ElapsedMilliseconds} ms");
        Assert.Equal((32, 32), (t.Height, t.Width));
    }

    /// <summary>A valid PNG with one metadata chunk spliced in after IHDR.</summary>
    private static byte[] PngWith(string type, byte[] data)
    {
        byte[] png = Encode(new PngEncoder());
        const int afterIhdr = 8 + 25;
        return png[..afterIhdr].Concat(Chunk(type, data)).Concat(png[afterIhdr..]).ToArray();
    }

    /// <summary>512 MiB of zeros, deflated: ~0.5 MB.</summary>
    private static byte[] DeflatedZeros()
    {
        using var z = new MemoryStream();
        using (var zs = new ZLibStream(z, CompressionLevel.Optimal, leaveOpen: true))
        {
            var block = new byte[1 << 20];
            for (int i = 0; i < 512; i++) zs.Write(block);
        }
        return z.ToArray();
    }

    /// <summary>A valid 64x48 PNG carrying a zTXt chunk that inflates to 512 MiB.</summary>
    internal static byte[] PngTextBomb() => PngWith("zTXt", "Comment\0\0"u8.ToArray().Concat(DeflatedZeros()).ToArray());

    [Fact]
    public void PngMetadataBombsAreRefusedFastAndSmallMetadataIsFine()
    {
        byte[] zeros = DeflatedZeros();
        var latin = System.Text.Encoding.Latin1;
        var bombs = new (string type, byte[] data)[]
        {
            ("zTXt", latin.GetBytes("Comment\0\0").Concat(zeros).ToArray()),
            ("iTXt", latin.GetBytes("Comment\0\u0001\0en\0\0").Concat(zeros).ToArray()),
            ("iCCP", latin.GetBytes("icc\0\0").Concat(zeros).ToArray()),
        };
        foreach (var (type, data) in bombs)
        {
            byte[] file = PngWith(type, data);
            long allocated = GC.GetAllocatedBytesForCurrentThread();
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var e = Assert.Throws<DinoImageException>(() => M.Preprocess(file));
            long cost = GC.GetAllocatedBytesForCurrentThread() - allocated;
            output.WriteLine($"{type} bomb ({file.Length} bytes): {clock.ElapsedMilliseconds} ms, {cost >> 20} MiB allocated: {e.Message}");
            Assert.Contains("decompression bomb", e.Message);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"{type}: {clock.Elapsed}");
            Assert.True(cost < 64L << 20, $"{type}: {cost} bytes allocated");
        }

        // Small text and a small (if odd) profile are ordinary metadata: the image embeds as without them.
        byte[] plain = Encode(new PngEncoder());
        byte[] smallText;
        using (var z = new MemoryStream())
        {
            using (var zs = new ZLibStream(z, CompressionLevel.Optimal, leaveOpen: true)) zs.Write(new byte[100_000]);
            smallText = latin.GetBytes("Comment\0\0").Concat(z.ToArray()).ToArray();
        }
        Assert.Equal(M.Preprocess(plain).Data, M.Preprocess(PngWith("zTXt", smallText)).Data);
        Assert.Equal(M.Preprocess(plain).Data, M.Preprocess(PngWith("tEXt", latin.GetBytes("Title\0hello"))).Data);
    }

    [Fact]
    public void FormatsThatAreNotEnabledAreRefused()
    {
        foreach (var (name, enc) in new (string, IImageEncoder)[] { ("tiff", new TiffEncoder()), ("tga", new TgaEncoder()), ("pbm", new PbmEncoder()) })
        {
            var e = Assert.Throws<DinoImageException>(() => M.Preprocess(Encode(enc)));
            Assert.Contains("enabled format", e.Message);
            output.WriteLine($"{name}: {e.Message}");
        }
    }

    [Fact]
    public void ACorruptIccProfileDoesNotCrash()
    {
        byte[] jpeg = Encode(new JpegEncoder());
        var icc = "ICC_PROFILE\0"u8.ToArray().Concat(new byte[] { 1, 1 }).Concat(Enumerable.Repeat((byte)0xAB, 200)).ToArray();
        var app2 = new byte[] { 0xFF, 0xE2, (byte)((icc.Length + 2) >> 8), (byte)(icc.Length + 2) }.Concat(icc);
        byte[] bad = jpeg[..2].Concat(app2).Concat(jpeg[2..]).ToArray();
        try
        {
            var r = M.Embed(bad);
            output.WriteLine("corrupt ICC ignored; embedded");
            Assert.Equal(M.Embed(jpeg).Embedding, r.Embedding);
        }
        catch (DinoImageException e) { output.WriteLine("corrupt ICC refused: " + e.Message); }
    }

    [Fact]
    public void CmykSixteenBitAndGrayscaleInputsEmbedLikeTheirRgb()
    {
        byte[] rgbPng = Encode(new PngEncoder());
        float[] want = models.Hf.Embed(rgbPng).Embedding;
        var cases = new (string, byte[])[]
        {
            ("16-bit RGB PNG", Encode(new PngEncoder { BitDepth = PngBitDepth.Bit16, ColorType = PngColorType.Rgb })),
            ("CMYK JPEG q100", Encode(new JpegEncoder { ColorType = JpegColorType.Cmyk, Quality = 100 })),
            ("RGB JPEG q100", Encode(new JpegEncoder { ColorType = JpegColorType.YCbCrRatio444, Quality = 100 })),
        };
        foreach (var (name, bytes) in cases)
        {
            double cos = TestData.Cosine(want, models.Hf.Embed(bytes).Embedding);
            output.WriteLine($"{name}: CLS cosine vs the 8-bit RGB PNG {cos:F6}");
            Assert.True(cos > (name.StartsWith("16") ? 0.9999999 : 0.999), name);
        }
        // Grayscale in 8 and 16 bits: the same image either way.
        byte[] gray8 = Encode(new PngEncoder { ColorType = PngColorType.Grayscale, BitDepth = PngBitDepth.Bit8 });
        byte[] gray16 = Encode(new PngEncoder { ColorType = PngColorType.Grayscale, BitDepth = PngBitDepth.Bit16 });
        Assert.Equal(models.Hf.Preprocess(gray8).Data, models.Hf.Preprocess(gray16).Data);
    }

    [Fact]
    public void BadImagesGiveTypedExceptions()
    {
        var m = M;
        byte[] png = File.ReadAllBytes(TestData.Image("rgb.png"));
        Assert.Throws<DinoImageException>(() => m.Preprocess(Array.Empty<byte>()));
        Assert.Throws<DinoImageException>(() => m.Preprocess(png.AsMemory(0, 100)));                 // truncated
        Assert.Throws<DinoImageException>(() => m.Preprocess("II*\0garbage garbage garbage"u8.ToArray()));  // TIFF: not enabled
        Assert.Throws<DinoImageException>(() => m.Preprocess(TestData.Image("no-such-file.png")));
        var corrupt = (byte[])png.Clone();
        for (int i = 200; i < corrupt.Length; i += 7) corrupt[i] ^= 0x5A;
        Assert.Throws<DinoImageException>(() => m.Preprocess(corrupt));
    }

    [Fact]
    public void ImageLimitsAreEnforced()
    {
        using var m = DinoModel.Load(TestData.Data("tiny-hf-f32.gguf"), new DinoModelOptions { ImageLimits = new ImageLimits { MaxPixels = 1000 } });
        var e = Assert.Throws<DinoImageException>(() => m.Preprocess(TestData.Image("rgb.png")));
        Assert.Contains("MaxPixels", e.Message);
        using var m2 = DinoModel.Load(TestData.Data("tiny-hf-f32.gguf"), new DinoModelOptions { ImageLimits = new ImageLimits { MaxDecodeBytes = 10_000 } });
        e = Assert.Throws<DinoImageException>(() => m2.Preprocess(TestData.Image("rgb.png")));
        Assert.Contains("MaxDecodeBytes", e.Message);
    }

    // ---- metadata bounds (ImageMetadata) ----

    private static byte[] Le32(uint v) => BitConverter.GetBytes(v);  // (little-endian hosts: every RID we ship)

    /// <summary>An extended (VP8X) WebP around ImageSharp's lossless encoding, flags and extra chunks as given.</summary>
    private static byte[] WebpExtended(byte flags, byte[] before, byte[] after, int w = 64, int h = 48)
    {
        byte[] simple = Encode(new WebpEncoder { FileFormat = WebpFileFormatType.Lossless }, w, h);
        byte[] image = simple[12..];  // the VP8L chunk
        byte[] vp8x = "VP8X"u8.ToArray().Concat(Le32(10)).Concat(new byte[] { flags, 0, 0, 0,
            (byte)(w - 1), (byte)((w - 1) >> 8), (byte)((w - 1) >> 16), (byte)(h - 1), (byte)((h - 1) >> 8), (byte)((h - 1) >> 16) }).ToArray();
        byte[] body = "WEBP"u8.ToArray().Concat(vp8x).Concat(before).Concat(image).Concat(after).ToArray();
        return "RIFF"u8.ToArray().Concat(Le32((uint)body.Length)).Concat(body).ToArray();
    }

    [Fact]
    public void WebpMetadataChunksLargerThanTheFileAreRefusedBeforeAnyAllocation()
    {
        // A chunk that declares ~4 GB and holds 16 bytes: ImageSharp 2.1 would allocate the declared size.
        byte[] Overrun(string fourCc) => System.Text.Encoding.ASCII.GetBytes(fourCc).Concat(Le32(0xFFFFFFF0)).Concat(new byte[16]).ToArray();
        var cases = new (string name, byte[] file)[]
        {
            ("EXIF", WebpExtended(0x08, Array.Empty<byte>(), Overrun("EXIF"))),
            ("XMP", WebpExtended(0x04, Array.Empty<byte>(), Overrun("XMP "))),
            ("ICCP", WebpExtended(0x20, Overrun("ICCP"), Array.Empty<byte>())),
            ("EXIF, 2 GB", WebpExtended(0x08, Array.Empty<byte>(), "EXIF"u8.ToArray().Concat(Le32(0x7FFFFFF0)).Concat(new byte[8]).ToArray())),
        };
        foreach (var (name, file) in cases)
        {
            long allocated = GC.GetAllocatedBytesForCurrentThread();
            var e = Assert.Throws<DinoImageException>(() => M.Preprocess(file));
            long cost = GC.GetAllocatedBytesForCurrentThread() - allocated;
            output.WriteLine($"WebP {name} ({file.Length} bytes): {cost >> 10} KiB allocated: {e.Message}");
            Assert.Contains("more than the file holds", e.Message);
            Assert.True(cost < 16L << 20, $"{name}: {cost} bytes allocated");
        }
        // The same extended layout without the overrun embeds as the simple file does.
        Assert.Equal(M.Preprocess(Encode(new WebpEncoder { FileFormat = WebpFileFormatType.Lossless })).Data,
                     M.Preprocess(WebpExtended(0, Array.Empty<byte>(), Array.Empty<byte>())).Data);
    }

    private static byte[] JpegSegment(byte marker, byte[] payload) =>
        new byte[] { 0xFF, marker, (byte)((payload.Length + 2) >> 8), (byte)(payload.Length + 2) }.Concat(payload).ToArray();

    [Fact]
    public void JpegMetadataPastTheBoundIsDroppedAndTheImageStillEmbedsWithItsOrientation()
    {
        // An EXIF orientation (rotate 90) that must survive, then ~24 MB of ICC and XMP segments (ImageSharp 2.1
        // joins these one at a time: quadratic) and comments, before and between the frame's segments.
        using var img = new Image<Rgb24>(64, 48);
        for (int y = 0; y < 48; y++)
            for (int x = 0; x < 64; x++)
                img[x, y] = new Rgb24((byte)(x * 4), (byte)(y * 5), (byte)((x + y) * 2));
        img.Metadata.ExifProfile = new SixLabors.ImageSharp.Metadata.Profiles.Exif.ExifProfile();
        img.Metadata.ExifProfile.SetValue(SixLabors.ImageSharp.Metadata.Profiles.Exif.ExifTag.Orientation, (ushort)6);
        using var ms = new MemoryStream();
        img.SaveAsJpeg(ms, new JpegEncoder { Quality = 95 });
        byte[] plain = ms.ToArray();

        var junk = new List<byte>();
        var filler = new byte[65000];
        for (int i = 0; i < 200; i++)
            junk.AddRange(JpegSegment(0xE2, "ICC_PROFILE\0"u8.ToArray().Concat(new[] { (byte)(i + 1), (byte)200 }).Concat(filler).ToArray()));
        for (int i = 0; i < 150; i++)
            junk.AddRange(JpegSegment(0xE1, "http://ns.adobe.com/xmp/extension/\0"u8.ToArray().Concat(filler).ToArray()));
        for (int i = 0; i < 20; i++) junk.AddRange(JpegSegment(0xFE, filler));
        // After the EXIF APP1 (SOI, then the encoder's APP0/APP1 segments): find the first DQT and insert before it.
        int dqt = plain.AsSpan().IndexOf(new byte[] { 0xFF, 0xDB });
        byte[] bloated = plain[..dqt].Concat(junk).Concat(plain[dqt..]).ToArray();

        float[] got = PreprocessBounded(bloated, $"JPEG with {junk.Count >> 20} MiB of metadata");
        Assert.Equal(M.Preprocess(plain).Data, got);
        Assert.NotEqual(M.Preprocess(Encode(new JpegEncoder { Quality = 95 })).Data, got);  // (the orientation was applied)

        // Under the bound nothing is dropped or copied: a comment or two is ordinary.
        byte[] small = plain[..dqt].Concat(JpegSegment(0xFE, "hello"u8.ToArray())).Concat(plain[dqt..]).ToArray();
        Assert.Equal(M.Preprocess(plain).Data, M.Preprocess(small).Data);
    }

    [Fact]
    public void GifCommentsPastTheBoundAreDroppedAndTheImageStillEmbeds()
    {
        byte[] plain = Encode(new GifEncoder());
        int afterTable = 13 + ((plain[10] & 0x80) != 0 ? 3 << ((plain[10] & 7) + 1) : 0);
        var comments = new List<byte>();
        var sub = Enumerable.Repeat((byte)'A', 255).ToArray();
        for (int c = 0; c < 64; c++)  // 64 comments of 255 x 255 bytes: ~4 MiB, UTF-16 twice in ImageSharp
        {
            comments.Add(0x21);
            comments.Add(0xFE);
            for (int i = 0; i < 255; i++) { comments.Add(255); comments.AddRange(sub); }
            comments.Add(0);
        }
        // An application extension that is not the loop count (XMP-like) counts too.
        comments.AddRange(new byte[] { 0x21, 0xFF, 11 }.Concat("XMP DataXMP"u8.ToArray()).Concat(new byte[] { 4, 1, 2, 3, 4, 0 }));
        byte[] bloated = plain[..afterTable].Concat(comments).Concat(plain[afterTable..]).ToArray();

        Assert.Equal(M.Preprocess(plain).Data, PreprocessBounded(bloated, $"GIF with {comments.Count >> 20} MiB of comments"));
    }

    // Preprocesses a file whose metadata is past the bound: within seconds, and allocating less than three
    // times its size (the file, a copy without the metadata, the pixels), where the decoder alone took gigabytes.
    private float[] PreprocessBounded(byte[] file, string what)
    {
        long allocated = GC.GetAllocatedBytesForCurrentThread();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        float[] got = M.Preprocess(file).Data;
        long cost = GC.GetAllocatedBytesForCurrentThread() - allocated;
        output.WriteLine($"{what}: {clock.ElapsedMilliseconds} ms, {cost >> 20} MiB allocated");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"{what}: {clock.Elapsed}");
        Assert.True(cost < 3L * file.Length, $"{what}: {cost} bytes allocated for a {file.Length}-byte file");
        return got;
    }

    // ---- decodes PIL refuses ----

    [Fact]
    public void JpegsWithOtherThanEightBitSamplesAreRefused()
    {
        byte[] plain = Encode(new JpegEncoder { Quality = 95 });
        int sof = plain.AsSpan().IndexOf(new byte[] { 0xFF, 0xC0 });
        Assert.True(sof > 0);
        foreach (byte bits in new byte[] { 12, 16, 1 })
        {
            byte[] file = (byte[])plain.Clone();
            file[sof + 4] = bits;  // FF C0, length, precision
            var e = Assert.Throws<DinoImageException>(() => M.Preprocess(file));
            Assert.Contains($"{bits}-bit JPEG", e.Message);
        }
        M.Preprocess(plain);
    }

    /// <summary>An 8-bit palette BMP, w x h, RLE8 (compression 1) with the given run data.</summary>
    private static byte[] Rle8Bmp(int w, int h, byte[] runs)
    {
        var palette = new byte[256 * 4];
        for (int i = 0; i < 256; i++) { palette[4 * i] = (byte)i; palette[4 * i + 1] = (byte)(255 - i); palette[4 * i + 2] = (byte)(i / 2); }
        int offset = 14 + 40 + palette.Length;
        var header = new List<byte>();
        header.AddRange("BM"u8.ToArray());
        header.AddRange(Le32((uint)(offset + runs.Length)));
        header.AddRange(Le32(0));
        header.AddRange(Le32((uint)offset));
        foreach (uint v in new uint[] { 40, (uint)w, (uint)h }) header.AddRange(Le32(v));
        header.AddRange(new byte[] { 1, 0, 8, 0 });  // planes, bits per pixel
        foreach (uint v in new uint[] { 1, (uint)runs.Length, 2835, 2835, 256, 0 }) header.AddRange(Le32(v));
        return header.Concat(palette).Concat(runs).ToArray();
    }

    [Fact]
    public void RunLengthBmpsThatStopBeforeTheImageEndsAreRefused()
    {
        // A few bytes that claim 7071 x 7071 and end at once: ImageSharp would decode a black 50 M-pixel image.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        foreach (byte[] runs in new[] { new byte[] { 0, 1 }, Array.Empty<byte>(), new byte[] { 200, 7, 0, 0 } })
        {
            var e = Assert.Throws<DinoImageException>(() => M.Preprocess(Rle8Bmp(7071, 7071, runs)));
            Assert.Contains("run-length", e.Message);
        }
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), clock.Elapsed.ToString());

        // 40 x 30 written in full (runs, a delta, absolute runs, ends of line), as PIL accepts: it embeds.
        var full = new List<byte>();
        for (int y = 0; y < 30; y++)
        {
            if (y == 10) { full.AddRange(new byte[] { 40, 3, 0, 2, 0, 1 }); continue; }  // row 10, then a delta down one row
            if (y == 11) continue;
            full.AddRange(new byte[] { 20, (byte)y, 0, 4, 1, 2, 3, 4, 16, (byte)(y * 3), 0, 0 });
        }
        full.AddRange(new byte[] { 0, 1 });
        Assert.NotEmpty(M.Preprocess(Rle8Bmp(40, 30, full.ToArray())).Data);
        // Without the delta (this Pillow reads 4 bytes for one), ended before the last row: PIL refuses it too.
        var rows = Enumerable.Range(0, 29).SelectMany(y => new byte[] { 20, (byte)y, 0, 4, 1, 2, 3, 4, 16, (byte)(y * 3), 0, 0 });
        Assert.Throws<DinoImageException>(() => M.Preprocess(Rle8Bmp(40, 30, rows.Concat(new byte[] { 0, 1 }).ToArray())));
        Assert.NotEmpty(M.Preprocess(Rle8Bmp(40, 30, rows.Concat(new byte[] { 40, 9, 0, 1 }).ToArray())).Data);
    }
}
