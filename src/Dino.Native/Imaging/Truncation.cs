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
                _ => true,  // BMP: ImageSharp checks its offsets itself
            };
            if (!complete)
                throw new DinoImageException($"{what}: truncated {format.Name} file (it ends before its end marker)");
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
