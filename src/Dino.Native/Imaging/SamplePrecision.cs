using System.Buffers.Binary;

namespace Dino.Imaging;

/// <summary>
/// Refuses JPEGs whose frame header (SOF) declares a sample precision other than 8 bits. ImageSharp 2.1 reads
/// 8-bit data under a 12-bit SOF as some other image and says nothing; PIL cannot identify the file.
/// </summary>
internal static class SamplePrecision
{
    internal static void CheckJpeg(Stream s, string what)
    {
        long start = s.Position, end = s.Length;
        try
        {
            s.Position = start + 2;  // after SOI
            Span<byte> h = stackalloc byte[5];
            // Segments before the first scan: FF, marker, big-endian length (counting itself), data.
            while (s.Position + 4 <= end)
            {
                s.ReadExactly(h[..2]);
                if (h[0] != 0xFF) return;  // malformed: the decoder reports it
                byte marker = h[1];
                if (marker == 0xFF) { s.Position--; continue; }  // fill byte
                if (marker is 0xD8 or 0x01 or (>= 0xD0 and <= 0xD7)) continue;  // no length
                if (marker is 0xD9 or 0xDA) return;  // no frame header before the image data: the decoder's to judge
                if (s.Position + 3 > end) return;
                s.ReadExactly(h[..3]);
                int length = BinaryPrimitives.ReadUInt16BigEndian(h);
                bool frame = marker is >= 0xC0 and <= 0xCF and not (0xC4 or 0xC8 or 0xCC);
                if (frame)
                {
                    if (h[2] != 8)
                        throw new DinoImageException($"{what}: a {h[2]}-bit JPEG (only 8-bit samples are supported; PIL cannot read it either)");
                    return;
                }
                if (length < 2) return;
                s.Position += length - 3;
            }
        }
        finally { s.Position = start; }
    }
}
