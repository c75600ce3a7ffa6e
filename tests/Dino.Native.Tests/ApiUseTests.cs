namespace Dino.Tests;

/// <summary>The model's lifetime and concurrency, cancellation, and quantization through the API.</summary>
[Collection("models")]
public class ApiUseTests(ModelFixture models)
{
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
    public void AnEmbeddingSaysWhatItHolds()
    {
        var t = new ImageTensor(new float[3 * 32 * 32], 32, 32);
        Assert.Equal("DinoEmbedding: 64 dims, 17 tokens (4x4 patches), outputs: CLS only", models.Tiny.Embed(t).ToString());
        Assert.Equal("DinoEmbedding: 64 dims, 17 tokens (4x4 patches), outputs: tokens, attention (2 heads, CLS row), 2 intermediate layers",
            models.Tiny.Embed(t, new EmbedOptions { Tokens = true, Attention = AttentionOutput.ClsQuery, IntermediateLayers = 2 }).ToString());
        Assert.Contains("attention (2 heads, full)", models.Tiny.Embed(t, new EmbedOptions { Attention = AttentionOutput.Full }).ToString());
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
        // 64 images: seconds of work even on a fast machine. Cancelled from a thread of its own, not a
        // thread-pool timer, which a busy test run can delay past the end of a short batch.
        var inputs = Enumerable.Range(0, 64).Select(_ => new ImageTensor(new float[3 * 224 * 224], 224, 224)).ToArray();
        using var cts = new CancellationTokenSource();
        var canceller = new Thread(() => { Thread.Sleep(300); cts.Cancel(); });
        canceller.Start();
        var sw = System.Diagnostics.Stopwatch.StartNew();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => models.Q8.EmbedBatchAsync(inputs, cancellationToken: cts.Token));
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(5), $"cancellation took {sw.Elapsed}");
        canceller.Join();
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
