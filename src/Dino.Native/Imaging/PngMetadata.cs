using System.Buffers.Binary;
using System.IO.Compression;

namespace Dino.Imaging;

/// <summary>
/// Refuses PNG metadata that would inflate to more than PIL allows, before ImageSharp sees the file.
/// ImageSharp 2.1 inflates every zTXt, iTXt and iCCP chunk in full, with no bound (Identify included), so
/// a 0.5 MB file with 512 MB of compressed text costs ~50 s and gigabytes. PIL caps one chunk at 1 MiB
/// (ImageFile.SAFEBLOCK) and all text at 64 MiB (PngImagePlugin.MAX_TEXT_MEMORY) and raises past that; we
/// refuse the same files, inflating no more than the cap to find out.
/// </summary>
internal static class PngMetadata
{
    internal const int MaxChunkBytes = 1 << 20;
    internal const long MaxTotalBytes = 64L << 20;

    internal static void Check(Stream s, string what)
    {
        long start = s.Position, end = s.Length;
        try
        {
            s.Position = start + 8;  // the signature
            Span<byte> header = stackalloc byte[8];
            long total = 0;
            while (s.Position + 8 <= end)
            {
                s.ReadExactly(header);
                long length = BinaryPrimitives.ReadUInt32BigEndian(header);
                string type = System.Text.Encoding.ASCII.GetString(header[4..]);
                long next = s.Position + length + 4;  // data and CRC
                if (type == "IEND" || next > end) break;  // a short last chunk is ImageSharp's (and Truncation's) to report
                long inflated = type switch
                {
                    "tEXt" => length,
                    "zTXt" or "iCCP" => InflatedAfterName(s, length, compressionFlag: false),
                    "iTXt" => InflatedAfterName(s, length, compressionFlag: true),
                    _ => 0,
                };
                if (inflated > MaxChunkBytes)
                    throw new DinoImageException($"{what}: its PNG {type} chunk inflates to more than {MaxChunkBytes >> 20} MiB (a decompression bomb; PIL refuses it too)");
                total += inflated;
                if (total > MaxTotalBytes)
                    throw new DinoImageException($"{what}: its PNG text and colour-profile chunks hold more than {MaxTotalBytes >> 20} MiB (a decompression bomb; PIL refuses it too)");
                s.Position = next;
            }
        }
        finally { s.Position = start; }
    }

    // zTXt and iCCP: name, NUL, method, zlib data. iTXt: keyword, NUL, compression flag, method, language, NUL,
    // translated keyword, NUL, text (zlib when the flag is 1). Returns the inflated size, stopping past the cap.
    private static long InflatedAfterName(Stream s, long length, bool compressionFlag)
    {
        if (length > MaxChunkBytes * 64L) return MaxChunkBytes + 1L;  // stored text alone passes the cap
        var data = new byte[length];
        s.ReadExactly(data);
        int at = Array.IndexOf(data, (byte)0);
        if (at < 0) return 0;  // malformed: ImageSharp reports or ignores it
        at++;
        if (compressionFlag)
        {
            if (at + 2 > data.Length) return 0;
            if (data[at] == 0) return data.Length - at;  // uncompressed iTXt
            at += 2;
            for (int field = 0; field < 2 && at >= 0; field++)  // language tag, translated keyword
            {
                int nul = Array.IndexOf(data, (byte)0, at);
                at = nul < 0 ? -1 : nul + 1;
            }
            if (at < 0) return 0;
        }
        else
        {
            at++;  // compression method
        }
        if (at > data.Length) return 0;
        try
        {
            using var z = new ZLibStream(new MemoryStream(data, at, data.Length - at), CompressionMode.Decompress);
            var sink = new byte[64 << 10];
            long inflated = 0;
            int n;
            while ((n = z.Read(sink, 0, sink.Length)) > 0)
            {
                inflated += n;
                if (inflated > MaxChunkBytes) break;
            }
            return inflated;
        }
        catch (InvalidDataException)
        {
            return 0;  // corrupt zlib: ImageSharp skips it
        }
    }
}
