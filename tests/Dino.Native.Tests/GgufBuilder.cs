using System.Text;

namespace Dino.Tests;

/// <summary>
/// Writes GGUF files field by field, starting from a valid micro DINO model (docs/gguf.md), so that
/// each hostile case changes exactly one thing. Independent of the native reader and of the converter.
/// </summary>
internal sealed class GgufBuilder
{
    public const uint U32 = 4, F32 = 6, Bool = 7, String = 8, Array = 9, U64 = 10;

    public uint Version = 3;
    public ulong? TensorCount, KvCount;  // overrides of the counts written
    public List<(string Key, uint Type, byte[] Value)> Kvs = new();
    public List<Tensor> Tensors = new();
    public int Alignment = 32;
    public int TruncateBy;               // bytes cut off the end
    public bool OmitData;                // write the header only

    internal sealed class Tensor
    {
        public string Name = "";
        public long[] Dims = System.Array.Empty<long>();
        public uint Type;                // ggml_type: 0 f32, 1 f16, 2 q4_0, 8 q8_0
        public ulong? Offset;            // null: laid out in order
        public byte[] Data = System.Array.Empty<byte>();
    }

    public const int Dim = 32, Mlp = 32, Patch = 2, Image = 4, Heads = 2, Depth = 1;

    /// <summary>A model that loads: dim 32, 1 block, 2 heads, MLP 32, patch 2, image 4, all f32.</summary>
    public static GgufBuilder Valid()
    {
        var g = new GgufBuilder();
        g.SetString("general.architecture", "dino");
        g.SetString("general.name", "micro");
        g.SetU32("dino.embedding_length", Dim);
        g.SetU32("dino.block_count", Depth);
        g.SetU32("dino.attention.head_count", Heads);
        g.SetU32("dino.feed_forward_length", Mlp);
        g.SetU32("dino.patch_size", Patch);
        g.SetU32("dino.image_size", Image);
        g.SetF32("dino.attention.layer_norm_epsilon", 1e-6f);
        int grid = Image / Patch;
        g.AddF32("patch_embd.weight", Patch, Patch, 3, Dim);
        g.AddF32("patch_embd.bias", Dim);
        g.AddF32("cls_embd", Dim);
        g.AddF32("pos_embd", Dim, 1 + grid * grid);
        for (int i = 0; i < Depth; i++)
        {
            string b = $"blk.{i}.";
            g.AddF32(b + "attn_norm.weight", Dim); g.AddF32(b + "attn_norm.bias", Dim);
            g.AddF32(b + "attn_qkv.weight", Dim, 3 * Dim); g.AddF32(b + "attn_qkv.bias", 3 * Dim);
            g.AddF32(b + "attn_out.weight", Dim, Dim); g.AddF32(b + "attn_out.bias", Dim);
            g.AddF32(b + "ffn_norm.weight", Dim); g.AddF32(b + "ffn_norm.bias", Dim);
            g.AddF32(b + "ffn_up.weight", Dim, Mlp); g.AddF32(b + "ffn_up.bias", Mlp);
            g.AddF32(b + "ffn_down.weight", Mlp, Dim); g.AddF32(b + "ffn_down.bias", Dim);
        }
        g.AddF32("output_norm.weight", Dim);
        g.AddF32("output_norm.bias", Dim);
        return g;
    }

    public Tensor T(string name) => Tensors.Single(t => t.Name == name);

    public void AddF32(string name, params long[] dims)
    {
        long n = dims.Aggregate(1L, (a, x) => a * x);
        var values = new float[n];
        for (long i = 0; i < n; i++) values[i] = MathF.Sin(i * 0.37f + name.Length) * 0.1f + (name.EndsWith("norm.weight") ? 1 : 0);
        var data = new byte[n * 4];
        Buffer.BlockCopy(values, 0, data, 0, data.Length);
        Tensors.Add(new Tensor { Name = name, Dims = dims, Type = 0, Data = data });
    }

    public void Set(string key, uint type, byte[] value)
    {
        Kvs.RemoveAll(k => k.Key == key);
        Kvs.Add((key, type, value));
    }

    public void SetU32(string key, uint v) => Set(key, U32, BitConverter.GetBytes(v));
    public void SetF32(string key, float v) => Set(key, F32, BitConverter.GetBytes(v));
    public void SetString(string key, string v) => Set(key, String, Str(v));

    public static byte[] Str(string s)
    {
        byte[] b = Encoding.UTF8.GetBytes(s);
        return BitConverter.GetBytes((ulong)b.Length).Concat(b).ToArray();
    }

    public byte[] Build()
    {
        var h = new MemoryStream();
        var w = new BinaryWriter(h);
        w.Write("GGUF"u8.ToArray());
        w.Write(Version);
        w.Write(TensorCount ?? (ulong)Tensors.Count);
        w.Write(KvCount ?? (ulong)Kvs.Count);
        foreach (var (key, type, value) in Kvs)
        {
            w.Write(Str(key));
            w.Write(type);
            w.Write(value);
        }
        ulong offset = 0;
        var offsets = new List<ulong>();
        foreach (var t in Tensors)
        {
            ulong at = t.Offset ?? offset;
            offsets.Add(at);
            w.Write(Str(t.Name));
            w.Write((uint)t.Dims.Length);
            foreach (long d in t.Dims) w.Write(d);
            w.Write(t.Type);
            w.Write(at);
            offset = Math.Max(offset, at + (ulong)Pad(t.Data.Length));
        }
        w.Flush();
        if (!OmitData)
        {
            long start = Pad((int)h.Length);
            h.SetLength(start);
            for (int i = 0; i < Tensors.Count; i++)
            {
                if (offsets[i] > 1UL << 30) continue;  // an absurd offset: no data to place
                h.Position = start + (long)offsets[i];
                h.Write(Tensors[i].Data);
            }
            h.SetLength(start + Pad((int)(h.Length - start)));
        }
        byte[] bytes = h.ToArray();
        return bytes[..Math.Max(0, bytes.Length - TruncateBy)];
    }

    private int Pad(int n) => (n + Alignment - 1) / Alignment * Alignment;
}
