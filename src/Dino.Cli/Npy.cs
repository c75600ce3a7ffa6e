using System.Globalization;
using System.Text;

namespace Dino.Cli;

/// <summary>Float32 .npy files (numpy format 1.0, little-endian, C order).</summary>
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

    public static (long[] shape, float[] data) Read(string path)
    {
        byte[] b = File.ReadAllBytes(path);
        if (b.Length < 10 || b[0] != 0x93 || Encoding.ASCII.GetString(b, 1, 5) != "NUMPY")
            throw new InvalidDataException($"{path}: not a .npy file");
        int start = b[6] == 1 ? 10 : 12;
        int len = b[6] == 1 ? BitConverter.ToUInt16(b, 8) : BitConverter.ToInt32(b, 8);
        if (start + len > b.Length) throw new InvalidDataException($"{path}: truncated header");
        string header = Encoding.ASCII.GetString(b, start, len);
        if (!header.Contains("'<f4'") || header.Contains("'fortran_order': True"))
            throw new InvalidDataException($"{path}: only little-endian float32 C-order arrays are read");
        int open = header.IndexOf('(', header.IndexOf("'shape'", StringComparison.Ordinal));
        int close = header.IndexOf(')', open);
        long[] shape = header[(open + 1)..close].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(x => long.Parse(x, CultureInfo.InvariantCulture)).ToArray();
        long count = shape.Aggregate(1L, (a, x) => checked(a * x));
        if (start + len + count * 4 != b.Length) throw new InvalidDataException($"{path}: data does not match the shape ({string.Join("x", shape)})");
        var data = new float[count];
        Buffer.BlockCopy(b, start + len, data, 0, (int)(count * 4));
        return (shape, data);
    }
}
