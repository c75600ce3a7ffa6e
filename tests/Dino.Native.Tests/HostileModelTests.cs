using System.Diagnostics;
using System.Reflection;
using Xunit.Abstractions;

namespace Dino.Tests;

/// <summary>
/// Malformed and hostile GGUF files: each must give a DinoModelException naming the problem (exit code 3
/// from the CLI), never a crash. Several of these make ggml 0.18.0's own reader abort or fault.
/// </summary>
public class HostileModelTests(ITestOutputHelper output)
{
    private static byte[] Mutate(Action<GgufBuilder> change)
    {
        var g = GgufBuilder.Valid();
        change(g);
        return g.Build();
    }

    private static byte[] Bytes(params byte[][] parts) => parts.SelectMany(p => p).ToArray();
    private static byte[] U32(uint v) => BitConverter.GetBytes(v);
    private static byte[] U64(ulong v) => BitConverter.GetBytes(v);

    /// <summary>name, file bytes, a word the message must contain.</summary>
    public static TheoryData<string, byte[], string> Cases()
    {
        var d = new TheoryData<string, byte[], string>();
        void Add(string name, byte[] file, string word) => d.Add(name, file, word);
        byte[] valid = GgufBuilder.Valid().Build();

        // --- container ---------------------------------------------------------------------
        Add("empty file", System.Array.Empty<byte>(), "not a GGUF");
        Add("3 bytes", "GGU"u8.ToArray(), "not a GGUF");
        Add("bad magic", Bytes("GGUX"u8.ToArray(), valid[4..]), "bad magic");
        foreach (uint v in new uint[] { 0, 1, 4 }) Add($"version {v}", Mutate(g => g.Version = v), "version");
        Add("byte-swapped version", Mutate(g => g.Version = 0x03000000), "big-endian");
        Add("tensor count -1", Mutate(g => g.TensorCount = ulong.MaxValue), "tensor count");
        Add("tensor count 2^62", Mutate(g => g.TensorCount = 1UL << 62), "tensor count");
        Add("key count -1", Mutate(g => g.KvCount = ulong.MaxValue), "key count");
        Add("key count 2^62", Mutate(g => g.KvCount = 1UL << 62), "key count");
        Add("key count larger than the keys", Mutate(g => g.KvCount = (ulong)g.Kvs.Count + 5), "");
        Add("key length past the end", Bytes("GGUF"u8.ToArray(), U32(3), U64(0), U64(1), U64(1UL << 40), "abc"u8.ToArray()), "past the end");
        Add("empty key", Mutate(g => g.Kvs.Insert(0, ("", GgufBuilder.U32, U32(1)))), "empty");
        Add("duplicate key", Mutate(g => g.Kvs.Add(("general.name", GgufBuilder.String, GgufBuilder.Str("again")))), "duplicate key");
        Add("100,000 keys", Mutate(g => { for (int i = 0; i < 100_000; i++) g.Kvs.Add(($"k{i}", GgufBuilder.U32, U32(1))); }), "key count");
        Add("unknown value type", Mutate(g => g.Kvs.Add(("x.y", 99, U32(1)))), "unknown value type");
        Add("nested arrays", Mutate(g => g.Kvs.Add(("x.y", GgufBuilder.Array, Bytes(U32(GgufBuilder.Array), U64(1), U32(GgufBuilder.U32), U64(1), U32(7))))), "nested");
        Add("array past the end", Mutate(g => g.Kvs.Add(("x.y", GgufBuilder.Array, Bytes(U32(GgufBuilder.U32), U64(1UL << 60))))), "array");
        Add("array of unknown type", Mutate(g => g.Kvs.Add(("x.y", GgufBuilder.Array, Bytes(U32(77), U64(1))))), "unknown type");
        Add("string value past the end", Mutate(g => g.Kvs.Add(("x.y", GgufBuilder.String, U64(1UL << 50)))), "past the end");
        Add("alignment is a string", Mutate(g => g.SetString("general.alignment", "32")), "general.alignment");
        foreach (uint a in new uint[] { 0, 3, 0x80000000 }) Add($"alignment {a}", Mutate(g => g.SetU32("general.alignment", a)), "power of two");
        Add("tensor name of 64 bytes", Mutate(g => g.T("cls_embd").Name = new string('x', 64)), "name of 64 bytes");
        Add("duplicate tensor names", Mutate(g => g.T("cls_embd").Name = "patch_embd.bias"), "duplicate tensor");
        Add("0 dimensions", Mutate(g => g.T("cls_embd").Dims = System.Array.Empty<long>()), "dimensions");
        Add("5 dimensions", Mutate(g => g.T("cls_embd").Dims = new long[] { 32, 1, 1, 1, 1 }), "dimensions");
        Add("dimension -1", Mutate(g => g.T("cls_embd").Dims = new long[] { -1 }), "out of range");
        Add("dimension 0", Mutate(g => g.T("cls_embd").Dims = new long[] { 0 }), "out of range");
        Add("dimension 2^62", Mutate(g => g.T("cls_embd").Dims = new long[] { 1L << 62 }), "out of range");
        Add("f32 with ne0 = 2^62 - 1", Mutate(g => g.T("cls_embd").Dims = new long[] { (1L << 62) - 1 }), "out of range");
        Add("element count that wraps", Mutate(g => g.T("pos_embd").Dims = new long[] { 1L << 32, 1L << 32 }), "out of range");
        Add("q4_0 with a huge row", Mutate(g => { var t = g.T("blk.0.attn_qkv.weight"); t.Type = 2; t.Dims = new long[] { 1L << 39, 1 }; }), "truncated");
        Add("q4_0 row not a block multiple", Mutate(g => { var t = g.T("blk.0.attn_qkv.weight"); t.Type = 2; t.Dims = new long[] { 33, 96 }; }), "multiple of 32");
        Add("tensor type 999", Mutate(g => g.T("cls_embd").Type = 999), "not supported");
        Add("tensor type iq2_xxs", Mutate(g => g.T("blk.0.attn_qkv.weight").Type = 16), "not supported");
        Add("tensor type q8_1", Mutate(g => g.T("blk.0.attn_qkv.weight").Type = 9), "not supported");
        Add("negative offset", Mutate(g => g.T("cls_embd").Offset = 1UL << 63), "truncated");
        Add("misaligned offset", Mutate(g => g.T("cls_embd").Offset = 4), "alignment");
        Add("overlapping tensors", Mutate(g => g.T("cls_embd").Offset = 0), "overlaps");
        Add("offset past the end", Mutate(g => g.T("output_norm.bias").Offset = 1UL << 40), "truncated");
        Add("truncated by one byte", Mutate(g => g.TruncateBy = 1), "truncated");
        Add("no data section", Mutate(g => g.OmitData = true), "truncated");

        // --- model ---------------------------------------------------------------------------
        Add("not a dino", Mutate(g => g.SetString("general.architecture", "llama")), "not 'dino'");
        Add("no architecture", Mutate(g => g.Kvs.RemoveAll(k => k.Key == "general.architecture")), "missing key");
        Add("no width", Mutate(g => g.Kvs.RemoveAll(k => k.Key == "dino.embedding_length")), "missing key dino.embedding_length");
        Add("width as float", Mutate(g => g.SetF32("dino.embedding_length", 32)), "value type");
        Add("10^6 blocks", Mutate(g => g.SetU32("dino.block_count", 1_000_000)), "out of range");
        Add("heads do not divide the width", Mutate(g => g.SetU32("dino.attention.head_count", 3)), "do not divide");
        Add("zero heads", Mutate(g => g.SetU32("dino.attention.head_count", 0)), "out of range");
        Add("image not a patch multiple", Mutate(g => g.SetU32("dino.image_size", 5)), "multiple of the patch size");
        Add("eps NaN", Mutate(g => g.SetF32("dino.attention.layer_norm_epsilon", float.NaN)), "out of range");
        Add("eps negative", Mutate(g => g.SetF32("dino.attention.layer_norm_epsilon", -1)), "out of range");
        Add("more blocks than tensors", Mutate(g => g.SetU32("dino.block_count", 2)), "missing tensor");
        Add("wrong shape", Mutate(g => g.T("blk.0.ffn_up.weight").Dims = new long[] { 32, 64 }), "shape");
        Add("wrong width everywhere", Mutate(g => g.SetU32("dino.embedding_length", 64)), "shape");
        Add("norm in f16", Mutate(g => { var t = g.T("blk.0.attn_norm.weight"); t.Type = 1; t.Data = t.Data[..64]; }), "expected f32");
        Add("missing tensor", Mutate(g => g.Tensors.RemoveAll(t => t.Name == "blk.0.attn_out.bias")), "missing tensor 'blk.0.attn_out.bias'");
        Add("extra tensor", Mutate(g => g.AddF32("blk.0.surprise", 8)), "unexpected tensor 'blk.0.surprise'");
        Add("NaN weights", Mutate(g => BitConverter.GetBytes(float.NaN).CopyTo(g.T("blk.0.ffn_up.weight").Data, 40)), "NaN");
        Add("NaN quantization scale", Mutate(g =>
        {
            var t = g.T("blk.0.attn_qkv.weight");
            t.Type = 8;  // q8_0: 96 rows of one 34-byte block
            t.Data = new byte[96 * 34];
            t.Data[0] = 0x00; t.Data[1] = 0x7E;  // fp16 NaN as the first block's scale
        }), "NaN");
        Add("bad preprocessing", Mutate(g => g.SetString("dino.preprocess.resample", "lanczos")), "resample");
        Add("bad crop rounding", Mutate(g => g.SetString("dino.preprocess.crop_rounding", "up")), "crop_rounding");
        // --- DINOv2 ----------------------------------------------------------------------------
        Add("unknown family", Mutate(g => g.SetString("dino.family", "dinov3")), "not one this library runs");
        Add("family as a number", Mutate(g => g.SetU32("dino.family", 2)), "value type");
        Add("dinov2 without LayerScale", Mutate(g => g.SetString("dino.family", "dinov2")), "missing tensor 'blk.0.attn_scale'");
        Add("LayerScale in a dino", Mutate(g => g.AddF32("blk.0.attn_scale", 32)), "unexpected tensor 'blk.0.attn_scale'");
        Add("registers without their tensor", Mutate(g => g.SetU32("dino.register_count", 2)), "missing tensor 'reg_embd'");
        Add("misshapen registers", Mutate(g => { g.SetU32("dino.register_count", 2); g.AddF32("reg_embd", 32, 3); }), "shape");
        Add("65 registers", Mutate(g => g.SetU32("dino.register_count", 65)), "out of range");
        Add("unknown MLP activation", Mutate(g => g.SetString("dino.feed_forward_activation", "relu")), "not gelu or swiglu");
        Add("SwiGLU with GELU's fc1", Mutate(g => g.SetString("dino.feed_forward_activation", "swiglu")), "tensor 'blk.0.ffn_up.weight' has shape");
        Add("bad position interpolation", Mutate(g => g.SetString("dino.position_interpolation", "bilinear")), "dino.position_interpolation");
        return d;
    }

    [Fact]
    public void TheValidBaseLoadsAndRuns()
    {
        string path = Write("valid", GgufBuilder.Valid().Build());
        using var m = DinoModel.Load(path);
        var r = m.Embed(new ImageTensor(new float[3 * 4 * 4], 4, 4));
        Assert.Equal(32, r.Dimensions);
        Assert.All(r.Embedding, v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void NonFiniteResultsAreAnErrorNotAnEmbedding()
    {
        // NaN weights past a switched-off weight scan, and NaN pixels: every output is checked before it is returned.
        string nanModel = Write("nan-weights-unchecked", Mutate(g => BitConverter.GetBytes(float.NaN).CopyTo(g.T("blk.0.ffn_up.weight").Data, 40)));
        using var m = DinoModel.Load(nanModel, new DinoModelOptions { CheckWeights = false });
        var image = new ImageTensor(new float[3 * 8 * 8], 8, 8);
        var e = Assert.Throws<DinoNativeException>(() => m.Embed(image));
        Assert.Equal(DinoStatus.Compute, e.Status);
        Assert.Contains("NaN", e.Message);
        Assert.Throws<DinoNativeException>(() => m.Embed(image, new EmbedOptions { Tokens = true, Attention = AttentionOutput.Full }));

        string valid = Write("valid-for-nan-pixels", GgufBuilder.Valid().Build());
        using var good = DinoModel.Load(valid);
        var pixels = new float[3 * 8 * 8];
        pixels[5] = float.NaN;
        Assert.Equal(DinoStatus.Compute, Assert.Throws<DinoNativeException>(() => good.Embed(new ImageTensor(pixels, 8, 8))).Status);
        Assert.All(good.Embed(image).Embedding, v => Assert.True(float.IsFinite(v)));  // and the context still works
    }

    [Theory]
    [MemberData(nameof(Cases), DisableDiscoveryEnumeration = true)]  // large byte[] rows: enumerate at run time
    public void IsRefusedWithAMessage(string name, byte[] file, string word)
    {
        string path = Write(name, file);
        var e = Assert.ThrowsAny<DinoModelException>(() => DinoModel.Load(path));
        output.WriteLine($"{name}: {e.Message}");
        Assert.Contains(word, e.Message);
        Assert.Contains(path, e.Message);
        // Quantizing it is refused the same way.
        Assert.ThrowsAny<DinoModelException>(() => DinoModel.Quantize(path, path + ".out", "q8_0"));
        Assert.False(File.Exists(path + ".out"));
    }

    [Fact]
    public void TheCliRefusesEveryCaseWithExitCode3()  // through 'dino embed', which checks weight values
    {
        string cli = Path.Combine(TestData.RepoRoot, "src", "Dino.Cli", "bin",
            typeof(HostileModelTests).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()!.Configuration, "net10.0", "dino.dll");
        foreach (var row in Cases())
        {
            string name = (string)row[0];
            string path = Write(name, (byte[])row[1]);
            var psi = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true };
            foreach (string a in new[] { cli, "embed", "-m", path, TestData.Image("tiny.png") }) psi.ArgumentList.Add(a);
            using var p = Process.Start(psi)!;
            string err = p.StandardError.ReadToEnd();
            p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            Assert.True(p.ExitCode == 3, $"{name}: exit code {p.ExitCode}, stderr: {err}");
            Assert.StartsWith("dino: error: ", err);
        }
    }

    private static string Write(string name, byte[] bytes)
    {
        string dir = Path.Combine(Path.GetTempPath(), "dino-hostile-models");
        Directory.CreateDirectory(dir);
        string path = Path.Combine(dir, string.Concat(name.Select(c => char.IsLetterOrDigit(c) ? c : '-')) + ".gguf");
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [Fact]
    public void BadModelsGiveTypedExceptions()
    {
        var e = Assert.Throws<DinoModelException>(() => DinoModel.Load(TestData.Data("no-such-model.gguf")));
        Assert.Contains("no-such-model.gguf", e.Message);
        string garbage = Path.Combine(Path.GetTempPath(), $"dino-garbage-{Guid.NewGuid()}.gguf");
        File.WriteAllBytes(garbage, "GGUF\x03\0\0\0 and then nothing useful"u8.ToArray());
        try { Assert.Throws<DinoModelException>(() => DinoModel.Load(garbage)); }
        finally { File.Delete(garbage); }
        Assert.Throws<ArgumentException>(() => DinoModel.Load(""));
    }
}
