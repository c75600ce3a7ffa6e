using System.Diagnostics;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using Xunit.Abstractions;

namespace Dino.Tests;

/// <summary>Long loops and hostile environments: memory stays flat, a full disk is reported, not hidden.</summary>
/// <remarks>Alone, after the parallel tests: RSS is the whole process's.</remarks>
[Collection("serial")]
public class HardUseTests(ITestOutputHelper output)
{
    private static long RssBytes()
    {
        foreach (string line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return long.Parse(line[6..].Trim().Split(' ')[0]) * 1024;
        return 0;
    }

    [Fact]
    public void LoadEmbedDisposeInALoopKeepsMemoryFlat()
    {
        var input = new ImageTensor(Enumerable.Range(0, 3 * 32 * 32).Select(i => MathF.Cos(i * 0.01f)).ToArray(), 32, 32);
        const int warmup = 300, total = 3000;
        long after = 0, start = 0;
        float[]? first = null;
        for (int i = 1; i <= total; i++)
        {
            using (var m = DinoModel.Load(TestData.Data("tiny-hf-f32.gguf")))
            {
                var e = m.Embed(input, new EmbedOptions { Tokens = true, Attention = AttentionOutput.Full, IntermediateLayers = 2 });
                first ??= e.Embedding;
                Assert.Equal(first, e.Embedding);
            }
            if (i == warmup || i == total)
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
                GC.Collect();
                if (i == warmup) start = RssBytes(); else after = RssBytes();
            }
        }
        double growthMb = (after - start) / 1e6;
        output.WriteLine($"RSS after {warmup} load/embed/dispose cycles: {start / 1e6:F1} MB; after {total}: {after / 1e6:F1} MB ({growthMb:+0.0;-0.0} MB)");
        Assert.True(growthMb < 16, $"RSS grew {growthMb:F1} MB over {total - warmup} cycles");
    }

    [Fact]
    public void EmbedBatchOverManyLargeImagesHoldsABatchAtATime()
    {
        // 200 paths of a 4000x3000 photo, preprocessed to 224 (600 KB a tensor): decoding every path before
        // computing the first would hold 120 MB of tensors; batch by batch holds MaxBatchSize of them.
        string dir = Path.Combine(Path.GetTempPath(), "dino-batch-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            string photo = Path.Combine(dir, "big.jpg");
            using (var img = new Image<Rgb24>(4000, 3000))
            {
                img.ProcessPixelRows(rows =>
                {
                    for (int y = 0; y < rows.Height; y++)
                    {
                        var row = rows.GetRowSpan(y);
                        for (int x = 0; x < row.Length; x++) row[x] = new Rgb24((byte)(x * 7), (byte)(y * 3), (byte)((x + y) * 5));
                    }
                });
                img.SaveAsJpeg(photo);
            }
            const int count = 200, batch = 4;
            using var m = DinoModel.Load(TestData.Data("tiny-hf-f32.gguf"), new DinoModelOptions { MaxBatchSize = batch });
            var options = new EmbedOptions { Preprocess = m.DefaultPreprocessing with { Resize = 224 } };
            long settledAt = 0, peak = 0;
            IEnumerable<string> Paths()
            {
                for (int i = 0; i < count; i++)
                {
                    if (i >= 3 * batch)  // past the first batches: what is held from here on must not grow
                    {
                        long now = GC.GetTotalMemory(forceFullCollection: true);
                        if (settledAt == 0) settledAt = now;
                        peak = Math.Max(peak, now);
                    }
                    yield return photo;
                }
            }
            var results = m.EmbedBatch(Paths(), options);
            Assert.Equal(count, results.Count);
            Assert.All(results, r => Assert.Equal(results[0].Embedding, r.Embedding));
            double growthMb = (peak - settledAt) / 1e6;
            output.WriteLine($"managed heap while reading {count} paths: {settledAt / 1e6:F1} MB settled, peak {peak / 1e6:F1} MB ({growthMb:+0.0} MB)");
            Assert.True(growthMb < 24, $"the managed heap grew {growthMb:F1} MB over {count} inputs (all of them held: ~{count * 0.6:F0} MB)");

            // Still throws on the first bad image, naming it.
            string bad = Path.Combine(dir, "bad.png");
            File.WriteAllText(bad, "not an image");
            var e = Assert.Throws<DinoImageException>(() => m.EmbedBatch(new[] { photo, bad, photo }, options));
            Assert.Contains("bad.png", e.Message);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void ABurstOfCallersGivesItsMemoryBack()
    {
        // 32 concurrent callers need 32 compute contexts; past MaxIdleContexts (the core count by default;
        // 2 here, so the test means the same on every machine) they are freed as they come back.
        var input = new ImageTensor(Enumerable.Range(0, 3 * 224 * 224).Select(i => MathF.Sin(i * 0.001f)).ToArray(), 224, 224);
        long Settled()
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
            return RssBytes();
        }
        using var m = DinoModel.Load(TestData.Data("vits8-hf-f32.gguf"), new DinoModelOptions { ThreadsPerCall = 1, MaxIdleContexts = 2 });
        float[] expected = m.Embed(input).Embedding;
        long single = Settled();

        const int callers = 32;
        using var start = new Barrier(callers);
        var results = new float[callers][];
        long peak = 0;
        var threads = Enumerable.Range(0, callers).Select(i => new Thread(() =>
        {
            start.SignalAndWait();
            results[i] = m.Embed(input).Embedding;
            long rss = RssBytes();
            lock (results) peak = Math.Max(peak, rss);
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        long after = Settled();
        output.WriteLine($"RSS after one caller: {single / 1e6:F0} MB; during a burst of {callers}: up to {peak / 1e6:F0} MB; after it: {after / 1e6:F0} MB");
        Assert.All(results, r => Assert.Equal(expected, r));
        Assert.True(peak > single + 150e6, "the burst did not overlap: nothing was measured");
        Assert.True(after < single * 1.2, $"a burst of {callers} callers left RSS at {after / 1e6:F0} MB against {single / 1e6:F0} MB for one");

        // 0 keeps none; a negative limit is refused where it is given.
        using (var none = DinoModel.Load(TestData.Data("vits8-hf-f32.gguf"), new DinoModelOptions { ThreadsPerCall = 1, MaxIdleContexts = 0 }))
        {
            Assert.Equal(expected, none.Embed(input).Embedding);
            Assert.Equal(expected, none.Embed(input).Embedding);
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => DinoModel.Load(TestData.Data("tiny-hf-f32.gguf"), new DinoModelOptions { MaxIdleContexts = -1 }));
    }

    [Fact]
    public void AFullDiskFailsTheRunAndLeavesNoFile()
    {
        string mnt = Directory.CreateTempSubdirectory("dino-full-").FullName;
        if (!Run("mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", mnt).ok)
        {
            output.WriteLine("cannot mount a small tmpfs here (needs root); the full-disk check did not run");
            Directory.Delete(mnt);
            return;
        }
        try
        {
            string images = Directory.CreateTempSubdirectory("dino-full-in-").FullName;
            for (int i = 0; i < 20; i++) File.Copy(TestData.Image("tiny.png"), Path.Combine(images, $"{i:D2}.png"));
            string cli = Path.Combine(TestData.RepoRoot, "src", "Dino.Cli", "bin",
                typeof(HardUseTests).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyConfigurationAttribute), false)
                    .Cast<System.Reflection.AssemblyConfigurationAttribute>().Single().Configuration, "net10.0", "dino.dll");
            var (ok, code, err) = Run("dotnet", cli, "embed", "-m", TestData.Data("tiny-hf-f32.gguf"), images, "--tokens", "-o", Path.Combine(mnt, "out.npy"));
            output.WriteLine($"exit {code}: {err}");
            Assert.False(ok);
            Assert.Equal(1, code);
            Assert.Contains("No space left", err);
            Assert.Empty(Directory.GetFileSystemEntries(mnt));  // neither the output nor its temporary file
            Directory.Delete(images, recursive: true);
        }
        finally
        {
            Run("umount", mnt);
            Directory.Delete(mnt);
        }
    }

    private static (bool ok, int code, string stderr) Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (string a in args) psi.ArgumentList.Add(a);
        try
        {
            using var p = Process.Start(psi)!;
            string err = p.StandardError.ReadToEnd();
            p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            return (p.ExitCode == 0, p.ExitCode, err);
        }
        catch (System.ComponentModel.Win32Exception e) { return (false, -1, e.Message); }
    }
}
