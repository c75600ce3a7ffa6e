using System.Globalization;
using System.Text;

namespace Dino.IO;

/// <summary>Float32 .npy files (numpy format 1.0, little-endian, C order). (Also compiled into the dino tool.)</summary>
internal static class Npy
{
    public static byte[] Header(IReadOnlyList<long> shape)
    {
        string dims = shape.Count == 1 ? $"{shape[0]}," : string.Join(", ", shape);
        string dict = $"{{'descr': '<f4', 'fortran_order': False, 'shape': ({dims}), }}";
        int total = 10 + dict.Length + 1;
        dict = dict.PadRight(dict.Length + (64 - total % 64) % 64) + "\n";
        var h = new List<byte> { 0x93 };
        h.AddRange("NUMPY"u8.ToArray());
        h.Add(1);
        h.Add(0);
        h.AddRange(BitConverter.GetBytes((ushort)dict.Length));
        h.AddRange(Encoding.ASCII.GetBytes(dict));
        return h.ToArray();
    }

    public static void Write(Stream s, IReadOnlyList<long> shape, ReadOnlySpan<float> data)
    {
        s.Write(Header(shape));
        s.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(data));
    }

    /// <summary>A little-endian float32 C-order array; anything else (or a malformed header) is InvalidDataException.</summary>
    public static (long[] shape, float[] data) Read(string path)
    {
        using FileStream f = RegularFile.OpenRead(path);
        long[] shape = ReadHeader(f, path, out long count);
        if (count > Array.MaxLength) throw new InvalidDataException($"{path}: {count} values is more than an array holds");
        var values = new float[count];
        f.ReadExactly(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()));  // no copy of the bytes first
        return (shape, values);
    }

    /// <summary>
    /// A .npy header read from s, its data checked against the rest of the stream's length: the shape, and
    /// in count the number of float32 values that follow (the stream is left at the first).
    /// </summary>
    public static long[] ReadHeader(Stream s, string path, out long count)
    {
        Span<byte> pre = stackalloc byte[12];
        int got = s.ReadAtLeast(pre, 12, throwOnEndOfStream: false);
        if (got < 10 || pre[0] != 0x93 || Encoding.ASCII.GetString(pre[1..6]) != "NUMPY")
            throw new InvalidDataException($"{path}: not a .npy file");
        int start = pre[6] == 1 ? 10 : 12;
        long len = pre[6] == 1 ? BitConverter.ToUInt16(pre[8..10]) : got >= 12 ? BitConverter.ToUInt32(pre[8..12]) : long.MaxValue;
        if (start + len > s.Length || len > 1 << 20) throw new InvalidDataException($"{path}: truncated header");
        s.Position = start;
        var hb = new byte[len];
        s.ReadExactly(hb);
        string header = Encoding.ASCII.GetString(hb);
        if (!header.Contains("'<f4'") || header.Contains("'fortran_order': True"))
            throw new InvalidDataException($"{path}: only little-endian float32 C-order arrays are read");
        int key = header.IndexOf("'shape'", StringComparison.Ordinal);
        int open = key < 0 ? -1 : header.IndexOf('(', key);
        int close = open < 0 ? -1 : header.IndexOf(')', open);
        if (close < 0) throw new InvalidDataException($"{path}: the header has no shape");
        var shape = new List<long>();
        foreach (string x in header[(open + 1)..close].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!long.TryParse(x, NumberStyles.None, CultureInfo.InvariantCulture, out long n))
                throw new InvalidDataException($"{path}: shape entry '{x}' is not a size");
            shape.Add(n);
        }
        long data = s.Length - start - len;
        count = 1;
        foreach (long n in shape)
        {
            // The data must be exactly count floats; a product past the file's size is caught before it can overflow.
            count = n == 0 ? 0 : count > data / 4 / n ? long.MaxValue : count * n;
        }
        if (count == long.MaxValue || count * 4 != data)
            throw new InvalidDataException($"{path}: {data} data bytes do not match the shape ({string.Join("x", shape)}) of float32");
        return shape.ToArray();
    }
}
