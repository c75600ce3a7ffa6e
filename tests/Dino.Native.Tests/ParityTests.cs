using Xunit.Abstractions;

namespace Dino.Tests;

[Collection("models")]
public class ParityTests(ModelFixture models, ITestOutputHelper output)
{
    private static ImageTensor[] Inputs(string name)
    {
        var (shape, data) = TestData.ReadNpy(TestData.Data($"inputs/{name}.npy"));
        int n = shape[0], h = shape[2], w = shape[3], size = 3 * h * w;
        return Enumerable.Range(0, n).Select(i => new ImageTensor(data.AsSpan(i * size, size).ToArray(), h, w)).ToArray();
    }

    [Fact]
    public void TensorEmbeddingsMatchPyTorch()
    {
        var inputs = Inputs("vits8-224x3");
        var (_, want) = TestData.ReadNpy(TestData.Reference("vits8_hf_224_cls.npy"));
        var batch = models.Hf.EmbedBatch(inputs);
        for (int i = 0; i < 3; i++)
        {
            double cos = TestData.Cosine(batch[i].Embedding, want.AsSpan(i * 384, 384));
            output.WriteLine($"image {i}: CLS cosine vs PyTorch {cos:F9}");
            Assert.True(cos >= 0.99999, $"cosine {cos}");
            Assert.Equal(batch[i].Embedding, models.Hf.Embed(inputs[i]).Embedding);
        }
    }

    [Fact]
    public void EveryAttentionKernelMatchesPyTorch()
    {
        // Exact and Flash are f32 throughout; Bf16 rounds q, k, v and the probabilities to bf16 and still
        // keeps the CLS within 1e-5 of PyTorch's on f32 weights (where the CPU lacks it, Bf16 runs Flash);
        // Int8 quantizes them to q8_0 blocks, within 1e-4.
        var inputs = Inputs("vits8-224x3");
        var (_, want) = TestData.ReadNpy(TestData.Reference("vits8_hf_224_cls.npy"));
        foreach (var kernel in new[] { AttentionKernel.Exact, AttentionKernel.Flash, AttentionKernel.Bf16, AttentionKernel.Int8 })
        {
            using var m = DinoModel.Load(TestData.Data("vits8-hf-f32.gguf"), new DinoModelOptions { Attention = kernel, ThreadsPerCall = 2 });
            var batch = m.EmbedBatch(inputs);
            for (int i = 0; i < 3; i++)
            {
                double cos = TestData.Cosine(batch[i].Embedding, want.AsSpan(i * 384, 384));
                output.WriteLine($"{kernel}, image {i}: CLS cosine vs PyTorch {cos:F9}");
                Assert.True(cos >= kernel switch { AttentionKernel.Bf16 => 0.99999, AttentionKernel.Int8 => 0.9999, _ => 0.999999 }, $"{kernel}: cosine {cos}");
            }
        }
        // Not a kernel: refused when the model is loaded, not at the first image.
        var bad = Assert.Throws<ArgumentOutOfRangeException>(() => DinoModel.Load(TestData.Data("tiny-hf-f32.gguf"),
                                                                                    new DinoModelOptions { Attention = (AttentionKernel)7 }));
        Assert.Equal("Attention", bad.ParamName);
    }

    // DINOv2 from image files through the model's own preprocessing (transformers' BitImageProcessor for the
    // Hugging Face layouts, DINOv2's eval transform for the original one) against an independent PyTorch
    // forward on PIL's pixels: lossless images, so the tensors are PIL's to the bit and the CLS must agree
    // to 1e-4 (issue 27).
    [Theory]
    [InlineData("v2s14-hf-f32.gguf", "v2s14_hf_images_cls.npy", 0)]
    [InlineData("v2s14reg-hf-f32.gguf", "v2s14reg_hf_images_cls.npy", 4)]
    [InlineData("v2s14reg-dinov2-f32.gguf", "v2s14reg_dinov2_images_cls.npy", 4)]
    public void Dinov2ImagesMatchPyTorch(string file, string reference, int registers)
    {
        using var m = DinoModel.Load(TestData.Data(file), new DinoModelOptions { ThreadsPerCall = 2 });
        Assert.Equal(("dinov2", 14, 518, 224, registers), (m.Info.Family, m.Info.PatchSize, m.Info.ImageSize, m.Info.InputSize, m.Info.RegisterCount));
        Assert.Equal(file.Contains("-hf") ? CenterCropRounding.Down : CenterCropRounding.HalfToEven, m.DefaultPreprocessing.CropRounding);
        string[] images = { "gray.png", "odd-crop.png", "palette.png", "rgb.png", "wide.png" };
        var (_, want) = TestData.ReadNpy(TestData.Reference(reference));
        var got = m.EmbedBatch(images.Select(TestData.Image));
        for (int i = 0; i < images.Length; i++)
        {
            double max = 0;
            for (int d = 0; d < 384; d++) max = Math.Max(max, Math.Abs(got[i].Embedding[d] - want[i * 384 + d]));
            output.WriteLine($"{file} {images[i]}: CLS max abs diff vs PyTorch {max:E2}");
            Assert.True(max <= 1e-4, $"{images[i]}: {max}");
        }
    }

    [Fact]
    public void RegistersComeApartFromTheTokens()
    {
        using var m = DinoModel.Load(TestData.Data("v2s14reg-hf-f32.gguf"), new DinoModelOptions { ThreadsPerCall = 2 });
        var input = Inputs("vits8-224x3")[0];
        var r = m.Embed(input, new EmbedOptions { Tokens = true, Registers = true, Attention = AttentionOutput.ClsQuery });
        Assert.Equal((257, 16, 16), (r.TokenCount, r.GridHeight, r.GridWidth));
        Assert.Equal(257 * 384, r.Tokens!.Length);
        Assert.Equal(4 * 384, r.Registers!.Length);
        Assert.Equal(256, r.AttentionMap(0).Length);
        var (_, hidden) = TestData.ReadNpy(TestData.Reference("v2s14reg_hf_224_hidden0.npy"));  // CLS, 4 registers, patches
        double cos = TestData.Cosine(r.Registers, hidden.AsSpan(384, 4 * 384));
        output.WriteLine($"registers cosine vs PyTorch {cos:F9}");
        Assert.True(cos >= 0.99999);
        Assert.Contains("4 registers", r.ToString());
        // Without registers in the model, asking for them is the caller's mistake, named before any input is read.
        var e = Assert.Throws<ArgumentException>(() => models.Hf.Embed(input, new EmbedOptions { Registers = true }));
        Assert.Contains("no register tokens", e.Message);
    }

    [Fact]
    public void OptionalOutputsHaveTheirShapes()
    {
        var input = Inputs("vits8-224x3")[0];
        var r = models.Q8.Embed(input, new EmbedOptions { Tokens = true, Attention = AttentionOutput.ClsQuery, IntermediateLayers = 4 });
        Assert.Equal(785, r.TokenCount);
        Assert.Equal((28, 28), (r.GridHeight, r.GridWidth));
        Assert.Equal(785 * 384, r.Tokens!.Length);
        Assert.Equal(6 * 785, r.Attention!.Length);
        Assert.Equal(4 * 785 * 384, r.Intermediate!.Length);
        Assert.Equal(r.Embedding, r.Token(0).ToArray());
        Assert.Equal(28 * 28, r.AttentionMap(5).Length);
        Assert.Equal(1.0, r.Attention.AsSpan(0, 785).ToArray().Sum(), 3);
        // the last intermediate layer is the final output
        Assert.Equal(r.Tokens, r.Intermediate.AsSpan(3 * 785 * 384).ToArray());
        var full = models.Q8.Embed(input, new EmbedOptions { Attention = AttentionOutput.Full });
        Assert.Equal(6 * 785 * 785, full.Attention!.Length);
        Assert.Equal(r.Attention.AsSpan(0, 785).ToArray(), full.Attention.AsSpan(0, 785).ToArray());
    }

    // Int8Weights.SevenBit reaches the native load (the kernels line says so) and rounds the q8_0 weights: the
    // CLS moves, a little (the native TinyQuantized.SevenBitWeightsStayCloseToF32 and the README measure how far).
    [Fact]
    public void SevenBitWeightsRoundTheQ8Weights()
    {
        using var seven = DinoModel.Load(TestData.Data("vits8-dino-q8_0.gguf"), new DinoModelOptions { Int8Weights = Int8Weights.SevenBit });
        if (seven.Info.Kernels.StartsWith("linear ggml", StringComparison.Ordinal)) return;  // no kernels here: loaded as stored
        Assert.Matches("^linear (avx512|avx2)(-vnni|-int8)? \\(7-bit weights\\), attention ", seven.Info.Kernels);
        Assert.Equal("q8_0", seven.Info.WeightType);
        var input = Inputs("vits8-224x3")[0];
        using var f32Model = DinoModel.Load(TestData.Data("vits8-dino-f32.gguf"));
        float[] stored = models.Q8.Embed(input).Embedding, rounded = seven.Embed(input).Embedding, f32 = f32Model.Embed(input).Embedding;
        double moved = TestData.Cosine(rounded, stored), kept = TestData.Cosine(rounded, f32);
        output.WriteLine($"7-bit q8_0: CLS cosine {moved:F7} vs q8_0 as stored, {kept:F7} vs f32");
        Assert.True(moved < 1.0, "the weights were not rounded");
        Assert.True(kept >= 0.999, $"{kept}");
    }

    [Fact]
    public void EmbeddingsAreInfoConsistent()
    {
        var i = models.Hf.Info;
        Assert.Equal((384, 12, 6, 1536, 8, 224), (i.EmbeddingLength, i.BlockCount, i.HeadCount, i.FeedForwardLength, i.PatchSize, i.ImageSize));
        Assert.Equal("f32", i.WeightType);
        Assert.Equal(1e-12f, i.LayerNormEps);
        Assert.Equal("q8_0", models.Q8.Info.WeightType);
        // The struct's last field arrives intact (what runs depends on the CPU).
        Assert.Matches("^linear (ggml|avx512|avx2)(-vnni|-int8)?, attention (ggml|avx512(-bf16)?|avx2)$", models.Q8.Info.Kernels);
        Assert.Equal(224, models.Hf.DefaultPreprocessing.Resize);
        Assert.Equal(ResampleFilter.Bicubic, models.Q8.DefaultPreprocessing.Resample);
        Assert.Equal(256, models.Q8.DefaultPreprocessing.Resize);
        var qkv = models.Q8.Tensors.Single(t => t.Name == "blk.0.attn_qkv.weight");
        Assert.Equal("q8_0", qkv.Type);
        Assert.Equal(new long[] { 384, 1152 }, qkv.Shape);
        Assert.Equal(150, models.Q8.Tensors.Count);
    }
}
