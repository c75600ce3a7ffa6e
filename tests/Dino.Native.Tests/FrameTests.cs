using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace Dino.Tests;

/// <summary>Raw frames from memory: each pixel format gives what a PNG of the same pixels gives, bit for bit.</summary>
[Collection("models")]
public class FrameTests(ModelFixture models)
{
    // An odd size (both passes of the resize, an odd last chroma column and row) with varied pixels.
    private const int W = 97, H = 61;

    private static byte[] RgbPixels()
    {
        var rgb = new byte[W * H * 3];
        var rng = new Random(7);
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
            {
                int i = (y * W + x) * 3;
                (rgb[i], rgb[i + 1], rgb[i + 2]) = ((byte)(x * 2 + rng.Next(8)), (byte)(y * 4 + rng.Next(8)), (byte)((x + y) * 3 % 256));
            }
        return rgb;
    }

    // The PNG of interleaved RGB pixels, through the file path every other input takes.
    private static byte[] Png(byte[] rgb, int w, int h)
    {
        using var img = Image.LoadPixelData<Rgb24>(rgb, w, h);
        using var s = new MemoryStream();
        img.SaveAsPng(s);
        return s.ToArray();
    }

    // The frame in a format, each row padded to stride with junk that must be ignored.
    private static (byte[] frame, int stride) Frame(byte[] rgb, DinoPixelFormat format)
    {
        int bpp = format switch { DinoPixelFormat.Rgba32 or DinoPixelFormat.Bgra32 => 4, DinoPixelFormat.Gray8 => 1, _ => 3 };
        int stride = W * bpp + 13;
        var frame = Enumerable.Repeat((byte)0xA5, stride * H).ToArray();
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
            {
                int s = (y * W + x) * 3, d = y * stride + x * bpp;
                byte r = rgb[s], g = rgb[s + 1], b = rgb[s + 2];
                switch (format)
                {
                    case DinoPixelFormat.Rgb24: (frame[d], frame[d + 1], frame[d + 2]) = (r, g, b); break;
                    case DinoPixelFormat.Bgr24: (frame[d], frame[d + 1], frame[d + 2]) = (b, g, r); break;
                    case DinoPixelFormat.Rgba32: (frame[d], frame[d + 1], frame[d + 2], frame[d + 3]) = (r, g, b, 17); break;
                    case DinoPixelFormat.Bgra32: (frame[d], frame[d + 1], frame[d + 2], frame[d + 3]) = (b, g, r, 200); break;
                    case DinoPixelFormat.Gray8: frame[d] = r; break;
                }
            }
        return (frame, stride);
    }

    public static TheoryData<DinoPixelFormat> PackedFormats() => new()
    {
        DinoPixelFormat.Rgb24, DinoPixelFormat.Bgr24, DinoPixelFormat.Rgba32, DinoPixelFormat.Bgra32, DinoPixelFormat.Gray8,
    };

    [Theory]
    [MemberData(nameof(PackedFormats))]
    public void EachFormatEmbedsAsThePngOfTheSamePixels(DinoPixelFormat format)
    {
        byte[] rgb = RgbPixels();
        if (format == DinoPixelFormat.Gray8)
            for (int i = 0; i < rgb.Length; i += 3) rgb[i + 1] = rgb[i + 2] = rgb[i];  // (gray: the PNG's R = G = B)
        var (frame, stride) = Frame(rgb, format);
        var m = models.Hf;
        Assert.Equal(m.Preprocess(Png(rgb, W, H)).Data, m.Preprocess(frame, W, H, stride, format).Data);
        Assert.Equal(m.Embed(Png(rgb, W, H)).Embedding, m.Embed(frame, W, H, stride, format).Embedding);
    }

    // NV12 as the BT.601 integer formulas DinoPixelFormat documents, written here independently.
    private static byte[] Nv12ToRgb(byte[] nv12, int w, int h, int stride, bool full)
    {
        var rgb = new byte[w * h * 3];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                int uv = (h + y / 2) * stride + x / 2 * 2;
                int Y = nv12[y * stride + x], d = nv12[uv] - 128, e = nv12[uv + 1] - 128, c = Y - 16;
                int r = full ? Y + ((359 * e + 128) >> 8) : (298 * c + 409 * e + 128) >> 8;
                int g = full ? Y - ((88 * d + 183 * e - 128) >> 8) : (298 * c - 100 * d - 208 * e + 128) >> 8;
                int b = full ? Y + ((454 * d + 128) >> 8) : (298 * c + 516 * d + 128) >> 8;
                int i = (y * w + x) * 3;
                (rgb[i], rgb[i + 1], rgb[i + 2]) = ((byte)Math.Clamp(r, 0, 255), (byte)Math.Clamp(g, 0, 255), (byte)Math.Clamp(b, 0, 255));
            }
        return rgb;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Nv12EmbedsAsThePngOfItsBt601Conversion(bool fullRange)
    {
        int stride = W + 7;  // (W is odd: the chroma rows hold W + 1 bytes)
        var nv12 = new byte[stride * (H + (H + 1) / 2)];
        var rng = new Random(11);
        rng.NextBytes(nv12);
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) nv12[y * stride + x] = (byte)(16 + (x * 3 + y * 2) % 220);  // smooth luma, noisy chroma
        var format = fullRange ? DinoPixelFormat.Nv12FullRange : DinoPixelFormat.Nv12;
        byte[] rgb = Nv12ToRgb(nv12, W, H, stride, fullRange);
        var m = models.Hf;
        Assert.Equal(m.Preprocess(Png(rgb, W, H)).Data, m.Preprocess(nv12, W, H, stride, format).Data);
    }

    [Fact]
    public void BadFramesAreRefusedWithWhatIsWrong()
    {
        var m = models.Tiny;
        var px = new byte[100 * 3 * 10];
        var e = Assert.Throws<ArgumentException>(() => m.Preprocess(px, 100, 11, 300, DinoPixelFormat.Rgb24));
        Assert.Contains("need 3300 bytes; the span holds 3000", e.Message);
        Assert.Equal("stride", Assert.Throws<ArgumentOutOfRangeException>(() => m.Preprocess(px, 100, 10, 299, DinoPixelFormat.Rgb24)).ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => m.Preprocess(px, 0, 10, 300, DinoPixelFormat.Rgb24));
        Assert.Equal("format", Assert.Throws<ArgumentOutOfRangeException>(() => m.Preprocess(px, 10, 10, 30, (DinoPixelFormat)99)).ParamName);
        // NV12 needs its chroma plane too.
        Assert.Throws<ArgumentException>(() => m.Preprocess(new byte[64 * 48], 64, 48, 64, DinoPixelFormat.Nv12));
        m.Preprocess(new byte[64 * 72], 64, 48, 64, DinoPixelFormat.Nv12);
        using var limited = DinoModel.Load(TestData.Data("tiny-hf-f32.gguf"), new DinoModelOptions { ImageLimits = new ImageLimits { MaxPixels = 999 } });
        Assert.Throws<DinoImageException>(() => limited.Preprocess(px, 100, 10, 300, DinoPixelFormat.Rgb24));
    }
}
