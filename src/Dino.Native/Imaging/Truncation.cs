using SixLabors.ImageSharp.Formats;

namespace Dino.Imaging;

/// <summary>
/// Refuses encoded images that stop before their end marker. ImageSharp 2.1 decodes a cut-off file into
/// a partly blank image without complaint; PIL raises "image file is truncated". An embedding of half an
/// image is wrong data, so we side with PIL.
/// </summary>
internal static class Truncation
{
    internal static void Check(Stream s, IImageFormat format, string what)
    {
        long start = s.Position, length = s.Length - start;
        try
        {
            bool complete = format.Name switch
            {
                "PNG" => EndsWithIend(s, start, length),
                "JPEG" => HasEndOfImage(s, start, length),
                "GIF" => Tail(s, start, length, 1) is [0x3B],
                "Webp" => RiffComplete(s, start, length),
                "BMP" => RleComplete(s, start, length),  // (ImageSharp checks the other layouts' offsets itself)
                _ => true,
            };
            if (!complete)
                throw new DinoImageException(format.Name == "BMP"
                    ? $"{what}: its run-length coded pixels end before the image does (PIL refuses it too: not enough image data)"
                    : $"{what}: truncated {format.Name} file (it ends before its end marker)");
        }
        finally { s.Position = start; }
    }

    private static byte[] Tail(Stream s, long start, long length, int n)
    {
        n = (int)Math.Min(n, length);
        s.Position = start + length - n;
        var b = new byte[n];
        s.ReadExactly(b);
        return b;
    }

    // The IEND chunk (length 0, type, CRC) is the last 12 bytes, possibly followed by a little padding.
    private static bool EndsWithIend(Stream s, long start, long length)
    {
        byte[] t = Tail(s, start, length, 64);
        int at = t.AsSpan().LastIndexOf("IEND"u8);
        return at >= 0 && t.Length - at >= 8;  // the type and its CRC
    }

    // An EOI marker (FF D9) after the first start-of-scan (FF DA). Entropy-coded data stuffs every FF with 00,
    // so EOI cannot occur inside the scan; data appended after EOI (motion photos) is allowed.
    private static bool HasEndOfImage(Stream s, long start, long length)
    {
        if (Tail(s, start, length, 2) is [0xFF, 0xD9]) return true;
        s.Position = start;
        var buf = new byte[1 << 16];
        bool inScan = false;
        int prev = -1, n;
        while ((n = s.Read(buf, 0, buf.Length)) > 0)
        {
            for (int i = 0; i < n; i++)
            {
                int b = buf[i];
                if (prev == 0xFF && b == 0xDA) inScan = true;
                else if (prev == 0xFF && b == 0xD9 && inScan) return true;
                prev = b;
            }
        }
        return false;
    }

    // A run-length coded BMP (RLE8, RLE4) whose runs stop before they cover the image: ImageSharp fills the
    // rest with zeros (a 1 KB file became a black 7071 x 7071 image); PIL raises "not enough image data".
    // This counts the pixels as PIL's BmpRleDecoder produces them: a run's pixels (clipped to the row),
    // an end of line's padding, a delta's skipped pixels, an absolute run's bytes; end of bitmap or of
    // data stops it.
    private static bool RleComplete(Stream s, long start, long length)
    {
        if (length < 54) return true;  // (too short for the header: ImageSharp reports it)
        s.Position = start;
        var header = new byte[54];
        s.ReadExactly(header);
        uint compression = BitConverter.ToUInt32(header, 30);
        if (BitConverter.ToUInt32(header, 14) < 40 || compression is not (1 or 2)) return true;
        s.Position = start;
        var d = new byte[length];
        s.ReadExactly(d);
        bool rle4 = compression == 2;
        long width = BitConverter.ToInt32(d, 18), height = Math.Abs((long)BitConverter.ToInt32(d, 22));
        if (width <= 0 || height == 0) return true;
        long need = width * height, have = 0, x = 0, at = BitConverter.ToUInt32(d, 10);
        while (have < need && at + 2 <= length)
        {
            int n = d[at], b = d[at + 1];
            at += 2;
            if (n != 0)
            {
                long run = Math.Max(0, Math.Min(n, width - x));
                have += run;
                x += run;
            }
            else if (b == 0)
            {
                have = (have + width - 1) / width * width;
                x = 0;
            }
            else if (b == 1)
            {
                break;
            }
            else if (b == 2)
            {
                if (at + 2 > length) break;
                have += d[at] + d[at + 1] * width;
                at += 2;
                x = have % width;
            }
            else
            {
                long count = rle4 ? b / 2 : b, read = Math.Min(count, length - at);
                have += rle4 ? 2 * read : read;
                at += read;
                if (read < count) break;
                x += b;
                if (at % 2 != 0) at++;
            }
        }
        return have >= need;
    }

    // "RIFF" size "WEBP": the file holds at least the size the header declares.
    private static bool RiffComplete(Stream s, long start, long length)
    {
        if (length < 12) return false;
        s.Position = start;
        var h = new byte[12];
        s.ReadExactly(h);
        return BitConverter.ToUInt32(h, 4) + 8L <= length;
    }
}
