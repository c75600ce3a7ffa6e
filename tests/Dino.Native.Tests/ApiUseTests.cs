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
    public async Task EachInputSucceedsOrFailsAlone()
    {
        var m = models.Tiny;
        string dir = Directory.CreateTempSubdirectory("dino-each-").FullName;
        try
        {
            string bad = Path.Combine(dir, "bad.png"), missing = Path.Combine(dir, "missing.jpg");
            File.WriteAllText(bad, "not a png");
            string[] paths = { TestData.Image("rgb.png"), bad, TestData.Image("photo.jpg"), missing, TestData.Image("tiny.png") };
            var each = m.EmbedEach(paths);
            Assert.Equal(paths, each.Select(r => r.Source));
            Assert.Equal(new[] { 0, 1, 2, 3, 4 }, each.Select(r => r.Index));
            Assert.Equal(new[] { true, false, true, false, true }, each.Select(r => r.Succeeded));
            Assert.IsType<DinoImageException>(each[1].Error);
            Assert.Contains("bad.png", each[1].Error!.Message);
            Assert.Contains("missing.jpg", each[3].ToString());
            foreach (int i in new[] { 0, 2, 4 }) Assert.Equal(m.Embed(paths[i]).Embedding, each[i].Embedding!.Embedding);

            // Streamed: the same results, in order; batch-mates of a bad one are computed.
            var streamed = new List<DinoEmbeddingResult>();
            await foreach (var r in m.EmbedEachAsync(paths)) streamed.Add(r);
            Assert.Equal(each.Select(r => r.Embedding?.Embedding), streamed.Select(r => r.Embedding?.Embedding));
            using var cts = new CancellationTokenSource();
            cts.Cancel();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => { await foreach (var _ in m.EmbedEachAsync(paths, cancellationToken: cts.Token)) { } });

            // Tensors: one of a size the model cannot take fails alone; the others equal their single runs.
            var good = new ImageTensor(Enumerable.Range(0, 3 * 32 * 32).Select(i => MathF.Sin(i * 0.01f)).ToArray(), 32, 32);
            var odd = new ImageTensor(new float[3 * 30 * 30], 30, 30);
            var tensors = m.EmbedEach(new[] { good, odd, good });
            Assert.Equal(new[] { true, false, true }, tensors.Select(r => r.Succeeded));
            Assert.Equal("tensor 1", tensors[1].Source);
            Assert.Equal(m.Embed(good).Embedding, tensors[2].Embedding!.Embedding);

            // The async forms equal the sync ones.
            byte[] png = File.ReadAllBytes(TestData.Image("rgb.png"));
            Assert.Equal(m.Embed(png).Embedding, (await m.EmbedAsync(png)).Embedding);
            using (var img = SixLabors.ImageSharp.Image.Load(png))
                Assert.Equal(m.Embed(img).Embedding, (await m.EmbedAsync(img)).Embedding);
            Assert.Equal(m.Embed(good).Embedding, (await m.EmbedAsync(good)).Embedding);
            var batch = await m.EmbedBatchAsync(new[] { TestData.Image("rgb.png"), TestData.Image("tiny.png") });
            Assert.Equal(m.Embed(TestData.Image("tiny.png")).Embedding, batch[1].Embedding);
            using (var s1 = File.OpenRead(TestData.Image("rgb.png")))
            using (var s2 = File.OpenRead(TestData.Image("tiny.png")))
                Assert.Equal(batch[1].Embedding, (await m.EmbedBatchAsync(new Stream[] { s1, s2 }))[1].Embedding);
        }
        finally { Directory.Delete(dir, recursive: true); }
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
    public void SizesTheEngineCannotComputeAreRefusedBeforeTheyAreAllocated()
    {
        string png = TestData.Image("rgb.png");
        // Options: refused where they are checked, as themselves (the resize would have allocated first).
        var big = Assert.Throws<ArgumentOutOfRangeException>(() => models.Q8.Preprocess(png, new PreprocessOptions { Resize = 1 << 20 }));
        Assert.Equal("Resize", big.ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => models.Q8.Preprocess(png, PreprocessOptions.HuggingFace() with { Crop = 9000 }));
        Assert.Throws<ArgumentNullException>(() => models.Q8.Preprocess(png, new PreprocessOptions { Mean = null! }));
        // An image whose longer side would pass 8192 at a sane Resize: that image's error, and EmbedEach's
        // promise of one result per input holds.
        string thin = Path.Combine(Path.GetTempPath(), $"dino-thin-{Guid.NewGuid():N}.png");
        using (var img = new SixLabors.ImageSharp.Image<SixLabors.ImageSharp.PixelFormats.Rgb24>(4, 400))
            SixLabors.ImageSharp.ImageExtensions.SaveAsPng(img, thin);
        try
        {
            var o = new EmbedOptions { Preprocess = new PreprocessOptions { Resize = 224, ResizeShortestEdge = true, Crop = 224 } };
            var e = Assert.Throws<DinoImageException>(() => models.Q8.Embed(thin, o));
            Assert.Contains("more than 8192", e.Message);
            var results = models.Q8.EmbedEach(new[] { thin, png }, o).ToList();
            Assert.Equal(2, results.Count);
            Assert.NotNull(results[0].Error);
            Assert.Null(results[1].Error);
        }
        finally { File.Delete(thin); }
    }

    [Fact]
    public void OptionsAreCheckedWhereTheyAreGivenAsThemselves()
    {
        string model = TestData.Data("tiny-hf-f32.gguf"), png = TestData.Image("rgb.png");
        // Model options, at Load.
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => DinoModel.Load(model, new DinoModelOptions { MaxBatchSize = 5000 }));
        Assert.Equal("MaxBatchSize", e.ParamName);
        Assert.Contains("4096", e.Message);
        Assert.Equal("Attention", Assert.Throws<ArgumentOutOfRangeException>(() => DinoModel.Load(model, new DinoModelOptions { Attention = (AttentionKernel)77 })).ParamName);
        Assert.Equal("Int8Weights", Assert.Throws<ArgumentOutOfRangeException>(() => DinoModel.Load(model, new DinoModelOptions { Int8Weights = (Int8Weights)2 })).ParamName);
        Assert.Equal("PositionInterpolation", Assert.Throws<ArgumentOutOfRangeException>(() =>
            DinoModel.Load(model, new DinoModelOptions { PositionInterpolation = (PositionInterpolation)9 })).ParamName);
        Assert.Equal("ImageLimits", Assert.Throws<ArgumentNullException>(() => DinoModel.Load(model, new DinoModelOptions { ImageLimits = null! })).ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => DinoModel.Load(model, new DinoModelOptions { ImageLimits = new ImageLimits { MaxPixels = 0 } }));
        using var m = DinoModel.Load(model, new DinoModelOptions { MaxBatchSize = 4096 });

        // Embedding options, once per call and before any input is read: EmbedEach does not turn them into each input's failure.
        var badLayers = new EmbedOptions { IntermediateLayers = 99 };
        Assert.Throws<ArgumentOutOfRangeException>(() => m.Embed(png, badLayers));
        Assert.Throws<ArgumentOutOfRangeException>(() => m.EmbedEach(new[] { png, png }, badLayers));
        Assert.Throws<ArgumentOutOfRangeException>(() => m.EmbedEach(new[] { m.Preprocess(png) }, badLayers));
        Assert.Equal("Attention", Assert.Throws<ArgumentOutOfRangeException>(() => m.Embed(png, new EmbedOptions { Attention = (AttentionOutput)5 })).ParamName);
        Assert.Equal("Resample", Assert.Throws<ArgumentOutOfRangeException>(() =>
            m.Embed(png, new EmbedOptions { Preprocess = new PreprocessOptions { Resample = (ResampleFilter)42 } })).ParamName);

        // Outputs too large for one array or for MaxComputeMemoryMB: an ArgumentException before they are allocated,
        // not an OverflowException or gigabytes spent first.  (Full attention at 1024 x 1024 for 8 images: 6 heads x
        // 16385^2 x 8 values; the tiny model has 3 heads, so at 2048 x 2048: 3 x 65537^2 values for one image.)
        var huge = new ImageTensor(new float[3 * 2048 * 2048], 2048, 2048);
        long allocated = GC.GetAllocatedBytesForCurrentThread();
        var full = Assert.Throws<ArgumentException>(() => m.Embed(huge, new EmbedOptions { Attention = AttentionOutput.Full }));
        Assert.Contains("more than one .NET array", full.Message);
        // Past MaxComputeMemoryMB: the native guard's exception, raised before the outputs are allocated.
        using var guarded = DinoModel.Load(model, new DinoModelOptions { MaxComputeMemoryMB = 32 });
        var layers = Assert.Throws<DinoNativeException>(() => guarded.Embed(huge, new EmbedOptions { IntermediateLayers = guarded.Info.BlockCount, Tokens = true }));
        Assert.Equal(DinoStatus.OutOfMemory, layers.Status);
        Assert.Contains("MaxComputeMemoryMB", layers.Message);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - allocated < 64L << 20, "the refused outputs were allocated");
        var each = guarded.EmbedEach(new[] { huge, m.Preprocess(png) }, new EmbedOptions { IntermediateLayers = 1 });
        Assert.NotNull(each[0].Error);  // (too large for the guard: that input's failure; the other embeds)
        Assert.Null(each[1].Error);
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

    [Fact]
    public void QuantizeCalibratesReportsProgressAndCancels()
    {
        string input = TestData.Data("tiny-hf-f32.gguf");
        string output = Path.Combine(Path.GetTempPath(), $"dino-q-{Guid.NewGuid()}.gguf");
        using var f32 = DinoModel.Load(input);
        var images = Directory.GetFiles(TestData.Image("")).Where(p => p.EndsWith(".png") || p.EndsWith(".jpg"))
                              .Select(p => f32.Preprocess(p)).ToList();
        try
        {
            var stages = new List<QuantizeProgress>();
            DinoModel.Quantize(input, output, new QuantizeOptions
            {
                Calibration = images, TargetCosine = 0.9999, Threads = 2, Progress = new Recorder(stages.Add),
            });
            Assert.Equal(new[] { "calibrating", "measuring each layer", "measuring the mix", "writing" }, stages.Select(s => s.Stage).Distinct());
            Assert.All(stages, s => Assert.InRange(s.Done, 0, s.Total));
            using (var m = DinoModel.Load(output))
            {
                Assert.Contains($"importance matrix from {images.Count} image(s)", m.Info.Quantization);
                Assert.Contains("chosen for CLS cosine >= 0.9999", m.Info.Quantization);
            }
            File.Delete(output);

            // Cancelled from the first progress report: OperationCanceledException, and no file.
            using var cts = new CancellationTokenSource();
            Assert.ThrowsAny<OperationCanceledException>(() => DinoModel.Quantize(input, output, new QuantizeOptions
            {
                Type = "q4_0", Calibration = images, Progress = new Recorder(_ => cts.Cancel()),
            }, cts.Token));
            Assert.False(File.Exists(output));

            // Bad options are ArgumentExceptions that say what is wrong.
            var e = Assert.Throws<ArgumentException>(() => DinoModel.Quantize(input, output, new QuantizeOptions { TargetCosine = 0.99 }));
            Assert.Contains("calibration images", e.Message);
            var odd = new ImageTensor(new float[3 * 36 * 36], 36, 36);  // not a multiple of the patch size 8 (any multiple would run)
            e = Assert.Throws<ArgumentException>(() => DinoModel.Quantize(input, output, new QuantizeOptions { Type = "q4_0", Calibration = new[] { odd } }));
            Assert.Contains("not a multiple of the patch size 8", e.Message);
            Assert.Throws<ArgumentException>(() => DinoModel.Quantize(input, output, new QuantizeOptions()));
            var many = Enumerable.Repeat(images[0], QuantizeOptions.MaxCalibrationImages + 1).ToList();
            e = Assert.Throws<ArgumentException>(() => DinoModel.Quantize(input, output, new QuantizeOptions { Type = "q4_0", Calibration = many }));
            Assert.Contains("MaxCalibrationImages", e.Message);
            Assert.False(File.Exists(output));

            // A progress that throws stops the work with its own exception, not as a cancellation.
            var thrown = Assert.Throws<InvalidOperationException>(() => DinoModel.Quantize(input, output, new QuantizeOptions
            {
                Type = "q4_0", Calibration = images, Progress = new Recorder(_ => throw new InvalidOperationException("progress broke")),
            }));
            Assert.Equal("progress broke", thrown.Message);
            Assert.False(File.Exists(output));
        }
        finally { File.Delete(output); }
    }

    private sealed class Recorder(Action<QuantizeProgress> action) : IProgress<QuantizeProgress>
    {
        public void Report(QuantizeProgress value) => action(value);
    }

    [Fact]
    public void ThePublicApiNamesNoTypeOfThePrivateImageSharp()
    {
        // An app compiles against Dino.Native alone (the package's ref/): a public member typed with the private
        // decoder's types could not be called, and would clash with the app's own ImageSharp.
        var library = typeof(DinoModel).Assembly;
        Assert.Contains(library.GetReferencedAssemblies(), a => a.Name == "Dino.Native.PrivateImageSharp");
        var leaks = new List<string>();
        void Check(Type? t, string where)
        {
            if (t is null) return;
            if (t.Assembly.GetName().Name == "Dino.Native.PrivateImageSharp") leaks.Add($"{where}: {t}");
            if (t.IsGenericType) foreach (var a in t.GetGenericArguments()) Check(a, where);
            if (t.HasElementType) Check(t.GetElementType(), where);
        }
        const System.Reflection.BindingFlags Public = System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance |
                                                      System.Reflection.BindingFlags.Static | System.Reflection.BindingFlags.DeclaredOnly;
        foreach (var type in library.GetExportedTypes())
        {
            Check(type.BaseType, type.Name);
            foreach (var i in type.GetInterfaces()) Check(i, type.Name);
            foreach (var m in type.GetMethods(Public)) { Check(m.ReturnType, $"{type.Name}.{m.Name}"); foreach (var p in m.GetParameters()) Check(p.ParameterType, $"{type.Name}.{m.Name}"); }
            foreach (var c in type.GetConstructors(Public)) foreach (var p in c.GetParameters()) Check(p.ParameterType, $"{type.Name}..ctor");
            foreach (var p in type.GetProperties(Public)) Check(p.PropertyType, $"{type.Name}.{p.Name}");
            foreach (var f in type.GetFields(Public)) Check(f.FieldType, $"{type.Name}.{f.Name}");
        }
        Assert.Empty(leaks);
    }
}
