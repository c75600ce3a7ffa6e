using System.Buffers.Binary;
using SixLabors.ImageSharp.Formats;

namespace Dino.Imaging;

/// <summary>
/// Bounds what the decoder would hold of an image's metadata, before it sees the file. We use none of it
/// but a JPEG's EXIF orientation, and ImageSharp 2.1 holds all of it, some of it badly:
/// <list type="bullet">
/// <item>PNG: text and colour-profile chunks inflate without bound (<see cref="PngMetadata"/>).</item>
/// <item>WebP: an EXIF, XMP or ICCP chunk's declared size (up to 4 GB) is allocated before it is read, so a
///   128-byte file can exhaust a container's memory. A chunk that declares more than the file holds is
///   refused: the file is malformed, as libwebp also says.</item>
/// <item>JPEG: APPn segments are joined one at a time (quadratic: 64 MB of APP1/APP2 segments took 34 s and
///   0.7 GB). Past <see cref="MaxMetadataBytes"/> of them, the decoder gets a copy without the ones that cannot
///   change the pixels (all but JFIF's APP0, Adobe's APP14 and the first EXIF APP1, each at most 64 KB).</item>
/// <item>GIF: comments are held twice as UTF-16. Past <see cref="MaxMetadataBytes"/> of comment and
///   application extensions (NETSCAPE's loop count aside), the decoder gets a copy without them.</item>
/// </list>
/// A JPEG or GIF is read once, here: the decoder gets the bytes read (or, past the bound, the copy). The JPEG walk also
/// refuses a frame header (SOF) of other than 8-bit samples: ImageSharp 2.1 reads 8-bit data under a 12-bit SOF as
/// some other image and says nothing, where PIL cannot identify the file.
/// </summary>
internal static class ImageMetadata
{
    internal const long MaxMetadataBytes = 1 << 20;

    /// <summary>The stream to decode: <paramref name="s"/> itself, or a copy without metadata we never use.</summary>
    internal static Stream Bound(Stream s, IImageFormat format, string what)
    {
        long start = s.Position;
        try
        {
            switch (format.Name)
            {
                case "PNG":
                    PngMetadata.Check(s, what);
                    return s;
                case "Webp":
                    CheckWebpChunks(s, start, what);
                    return s;
                case "JPEG":
                    return Without(s, start, (d, drop) => JpegMetadata(d, drop, what));
                case "GIF":
                    return Without(s, start, (d, drop) => GifMetadata(d, drop));
                default:
                    return s;
            }
        }
        finally { s.Position = start; }
    }

    // RIFF "WEBP" chunks: FourCC, little-endian size, data padded to an even length.
    private static void CheckWebpChunks(Stream s, long start, string what)
    {
        long end = s.Length, at = start + 12;
        Span<byte> header = stackalloc byte[8];
        while (at + 8 <= end)
        {
            s.Position = at;
            s.ReadExactly(header);
            long size = BinaryPrimitives.ReadUInt32LittleEndian(header[4..]);
            if (size > end - at - 8)
            {
                string fourCc = System.Text.Encoding.ASCII.GetString(header[..4]).TrimEnd();
                if (fourCc is "EXIF" or "XMP" or "ICCP")
                    throw new DinoImageException($"{what}: its WebP {fourCc} chunk declares {size} bytes, more than the file holds (a malformed file)");
                return;  // an image chunk cut short: Truncation reports it
            }
            at += 8 + size + (size & 1);
        }
    }

    private delegate long MetadataFinder(byte[] data, List<(int Start, int End)> drop);

    // Finds the droppable ranges; the bytes read, or past the bound a copy without them (the file is not read twice).
    private static Stream Without(Stream s, long start, MetadataFinder find)
    {
        long length = s.Length - start;
        if (length > Array.MaxLength) return s;  // (over ImageLimits.MaxEncodedBytes long before)
        byte[] data;
        bool inMemory = s is MemoryStream ms && start == 0 && ms.TryGetBuffer(out ArraySegment<byte> seg) && seg.Offset == 0 && seg.Count == length;
        if (inMemory)
        {
            data = ((MemoryStream)s).GetBuffer();
        }
        else
        {
            data = new byte[length];
            s.Position = start;
            s.ReadExactly(data);
        }
        var drop = new List<(int Start, int End)>();
        if (find(data, drop) <= MaxMetadataBytes)
            return inMemory ? s : new MemoryStream(data, writable: false);
        var copy = new MemoryStream(data.Length);
        int at = 0;
        foreach (var (from, to) in drop)
        {
            copy.Write(data, at, from - at);
            at = to;
        }
        copy.Write(data, at, (int)length - at);
        copy.Position = 0;
        return copy;
    }

    // JPEG segments: FF marker, then (but for SOI, EOI, RSTn and TEM) a big-endian length that counts itself.
    // Markers also follow entropy-coded data (progressive scans), where FF is stuffed with 00.  Returns the
    // bytes of the droppable APPn and COM segments.
    private static long JpegMetadata(byte[] d, List<(int Start, int End)> drop, string what)
    {
        long total = 0;
        bool sawExif = false;
        int at = 2;  // after SOI
        while (true)
        {
            // The next marker: FF (fill FFs allowed) then a byte that is not 00 and not RSTn.
            int ff = Array.IndexOf(d, (byte)0xFF, at);
            if (ff < 0) return total;
            int m = ff + 1;
            while (m < d.Length && d[m] == 0xFF) m++;
            if (m >= d.Length) return total;
            byte marker = d[m];
            at = m + 1;
            if (marker == 0x00 || marker is >= 0xD0 and <= 0xD7 || marker == 0x01 || marker == 0xD8) continue;
            if (marker == 0xD9) return total;  // EOI
            if (at + 2 > d.Length) return total;
            int len = BinaryPrimitives.ReadUInt16BigEndian(d.AsSpan(at));
            int end = at + len;
            if (len < 2 || end > d.Length) return total;  // malformed: the decoder reports it
            if (marker is >= 0xC0 and <= 0xCF and not (0xC4 or 0xC8 or 0xCC) && len >= 3 && d[at + 2] != 8)
                throw new DinoImageException($"{what}: a {d[at + 2]}-bit JPEG (only 8-bit samples are supported; PIL cannot read it either)");
            bool app = marker is >= 0xE0 and <= 0xEF, comment = marker == 0xFE;
            if (app || comment)
            {
                bool exif = marker == 0xE1 && len >= 8 && d.AsSpan(at + 2, 6).SequenceEqual("Exif\0\0"u8);
                bool keep = marker is 0xE0 or 0xEE || (exif && !sawExif);
                sawExif |= exif;
                if (!keep)
                {
                    drop.Add((ff, end));
                    total += end - ff;
                }
            }
            at = end;  // after SOS: the scan's data, searched for the next marker above
        }
    }

    // GIF: header and screen descriptor, the global colour table, then blocks: extensions (21, label,
    // sub-blocks to a 0), images (2C, descriptor, local table, LZW code size, sub-blocks), the trailer (3B).
    private static long GifMetadata(byte[] d, List<(int Start, int End)> drop)
    {
        if (d.Length < 13) return 0;
        long total = 0;
        int at = 13 + ((d[10] & 0x80) != 0 ? 3 << ((d[10] & 7) + 1) : 0);
        while (at < d.Length)
        {
            int block = at;
            if (d[at] == 0x21 && at + 2 <= d.Length)
            {
                byte label = d[at + 1];
                at = SkipSubBlocks(d, at + 2);
                if (at < 0) return total;
                bool application = label == 0xFF, loopCount = application && block + 14 <= d.Length
                    && (d.AsSpan(block + 3, 11).SequenceEqual("NETSCAPE2.0"u8) || d.AsSpan(block + 3, 11).SequenceEqual("ANIMEXTS1.0"u8));
                if (label == 0xFE || (application && !loopCount))
                {
                    drop.Add((block, at));
                    total += at - block;
                }
            }
            else if (d[at] == 0x2C && at + 10 < d.Length)
            {
                byte packed = d[at + 9];
                at += 10 + ((packed & 0x80) != 0 ? 3 << ((packed & 7) + 1) : 0) + 1;  // descriptor, table, LZW code size
                at = SkipSubBlocks(d, at);
                if (at < 0) return total;
            }
            else
            {
                return total;  // the trailer, or bytes the decoder will judge
            }
        }
        return total;
    }

    // Sub-blocks from at: a size byte, that many bytes, ..., a 0. Returns the offset after the 0, or -1 past the end.
    private static int SkipSubBlocks(byte[] d, int at)
    {
        while (at < d.Length)
        {
            int n = d[at];
            at += 1 + n;
            if (n == 0) return at;
        }
        return -1;
    }
}
