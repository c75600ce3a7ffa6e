namespace Dino.Tests;

[Collection("models")]
public class RobustnessTests(ModelFixture models)
{
    [Fact]
    public void BadImagesGiveTypedExceptions()
    {
        var m = models.Tiny;
        byte[] png = File.ReadAllBytes(TestData.Image("rgb.png"));
        Assert.Throws<DinoImageException>(() => m.Preprocess(Array.Empty<byte>()));
        Assert.Throws<DinoImageException>(() => m.Preprocess(png.AsMemory(0, 100)));                 // truncated
        Assert.Throws<DinoImageException>(() => m.Preprocess("II*\0garbage garbage garbage"u8.ToArray()));  // TIFF: not enabled
        Assert.Throws<DinoImageException>(() => m.Preprocess(TestData.Image("no-such-file.png")));
        var corrupt = (byte[])png.Clone();
        for (int i = 200; i < corrupt.Length; i += 7) corrupt[i] ^= 0x5A;
        Assert.Throws<DinoImageException>(() => m.Preprocess(corrupt));
    }

    [Fact]
    public void ImageLimitsAreEnforced()
    {
        using var m = DinoModel.Load(TestData.Data("tiny-hf-f32.gguf"), new DinoModelOptions { ImageLimits = new ImageLimits { MaxPixels = 1000 } });
        var e = Assert.Throws<DinoImageException>(() => m.Preprocess(TestData.Image("rgb.png")));
        Assert.Contains("MaxPixels", e.Message);
        using var m2 = DinoModel.Load(TestData.Data("tiny-hf-f32.gguf"), new DinoModelOptions { ImageLimits = new ImageLimits { MaxDecodeBytes = 10_000 } });
        e = Assert.Throws<DinoImageException>(() => m2.Preprocess(TestData.Image("rgb.png")));
        Assert.Contains("MaxDecodeBytes", e.Message);
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

    [Fact]
    public void DisposeIsSafe()
    {
        var m = DinoModel.Load(TestData.Data("tiny-hf-f32.gguf"));
        var t = new ImageTensor(new float[3 * 32 * 32], 32, 32);
        m.Embed(t);
        m.Dispose();
        m.Dispose();
        Assert.Throws<ObjectDisposedException>(() => m.Embed(t));
        Assert.Throws<ObjectDisposedException>(() => m.TokenCount(32, 32));
    }

    [Fact]
    public void ManyThreadsGiveTheSameResultsAsOne()
    {
        var inputs = Enumerable.Range(0, 4).Select(i =>
            new ImageTensor(Enumerable.Range(0, 3 * 224 * 224).Select(j => MathF.Sin(j * 0.001f * (i + 1))).ToArray(), 224, 224)).ToArray();
        using var m = DinoModel.Load(TestData.Data("vits8-dino-q8_0.gguf"), new DinoModelOptions { ThreadsPerCall = 1 });
        var single = inputs.Select(t => m.Embed(t).Embedding).ToArray();
        var results = new float[16][];
        Parallel.For(0, 16, new ParallelOptions { MaxDegreeOfParallelism = 16 }, i => results[i] = m.Embed(inputs[i % 4]).Embedding);
        for (int i = 0; i < 16; i++) Assert.Equal(single[i % 4], results[i]);
    }

    [Fact]
    public async Task CancellationStopsABatchAndLeavesTheModelUsable()
    {
        var inputs = Enumerable.Range(0, 16).Select(_ => new ImageTensor(new float[3 * 224 * 224], 224, 224)).ToArray();
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        var sw = System.Diagnostics.Stopwatch.StartNew();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => models.Q8.EmbedBatchAsync(inputs, cancellationToken: cts.Token));
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(5), $"cancellation took {sw.Elapsed}");
        var r = models.Q8.Embed(inputs[0]);
        Assert.Equal(384, r.Dimensions);
    }

    [Fact]
    public void QuantizeWritesAModelAndRejectsBadTypes()
    {
        string output = Path.Combine(Path.GetTempPath(), $"dino-q-{Guid.NewGuid()}.gguf");
        try
        {
            DinoModel.Quantize(TestData.Data("tiny-hf-f32.gguf"), output, "q8_0");
            using var m = DinoModel.Load(output);
            Assert.Equal("q8_0", m.Info.WeightType);
            Assert.Throws<ArgumentException>(() => DinoModel.Quantize(TestData.Data("tiny-hf-f32.gguf"), output, "q1_9"));
            Assert.Throws<DinoModelException>(() => DinoModel.Quantize(TestData.Data("missing.gguf"), output, "q8_0"));
        }
        finally { File.Delete(output); }
    }
}
