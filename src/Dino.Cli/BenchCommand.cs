using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;

namespace Dino.Cli;

internal static class BenchCommand
{
    public static Command Create()
    {
        var model = Shared.Model();
        var threads = Shared.Threads();
        var size = Shared.Size();
        var batch = new Option<int>("--batch", "-b") { Description = "Images per call", DefaultValueFactory = _ => 1 };
        var runs = new Option<int>("--runs", "-r") { Description = "Timed runs after one warm-up", DefaultValueFactory = _ => 10 };
        var json = new Option<bool>("--json") { Description = "Print JSON" };
        var attention = Shared.Attention();
        var weights7Bit = Shared.Weights7Bit();
        var profile = new Option<bool>("--profile") { Description = "Then where the time goes: each kind of op per block and in total, its GOP/s and its share of this CPU's peak (measured by a probe in the same run)" };
        var cmd = new Command("bench", "Time the model: one warm-up call, then --runs calls on built-in images; prints the median and spread of milliseconds per image, and the peak memory of the process.")
        { model, batch, threads, runs, size, attention, weights7Bit, json, profile };
        CliHelp.AddDetails(cmd, """
            Compare variants side by side in one session: the machine's load changes the absolute numbers.

            Examples:
              dino bench -m dino-vits8-q8_0.gguf --threads 2 --runs 20
              dino bench -m model.gguf --batch 8 --json
              dino bench -m dino-vits8-q8_0.gguf --threads 2 --profile
            """);
        cmd.SetAction((r, ct) => Task.FromResult(Run(r.GetValue(model)!, r.GetValue(batch), r.GetValue(threads), r.GetValue(runs),
                                                     r.GetValue(size), r.GetValue(attention), r.GetValue(weights7Bit), r.GetValue(json), r.GetValue(profile), ct)));
        return cmd;
    }

    private static int Run(string modelPath, int batch, int threads, int runs, int? size, AttentionKernel attention, bool weights7Bit, bool json,
                           bool profile, CancellationToken ct)
    {
        if (runs < 1) throw new UsageException("--runs must be 1 or more");
        var load = Stopwatch.StartNew();
        using var dino = Shared.Open(modelPath, threads, batch, attention, weights7Bit);
        double loadMs = load.Elapsed.TotalMilliseconds;
        int s = size ?? dino.Info.InputSize;
        if (s % dino.Info.PatchSize != 0) throw new UsageException($"--size must be a multiple of {dino.Info.PatchSize}");
        var inputs = Probes.Make(batch, s);
        dino.EmbedBatch(inputs, cancellationToken: ct);  // warm-up: builds and allocates the graph
        var perImage = new List<double>();
        for (int i = 0; i < runs; i++)
        {
            ct.ThrowIfCancellationRequested();
            var t = Stopwatch.StartNew();
            dino.EmbedBatch(inputs, cancellationToken: ct);
            perImage.Add(t.Elapsed.TotalMilliseconds / batch);
            if (!json) Console.Error.Write($"\rrun {i + 1}/{runs}: {perImage[^1]:F1} ms/image   ");
        }
        if (!json) Console.Error.WriteLine();
        perImage.Sort();
        double median = perImage.Count % 2 == 1 ? perImage[perImage.Count / 2] : (perImage[perImage.Count / 2 - 1] + perImage[perImage.Count / 2]) / 2;
        long peakRss = PeakRss.Bytes();
        int nThreads = dino.Threads;  // as the native side resolved --threads 0 (CPU affinity, cgroup quota)
        var parts = profile ? Profile(dino, inputs, runs, nThreads, ct) : null;
        double frameMs = FramePreprocessMs(dino, runs, ct);
        var result = new
        {
            model = dino.Info.Name, weights = dino.Info.WeightType, kernels = attention == AttentionKernel.Auto ? dino.Info.Kernels  // (the model's default; --attention replaces one part)
                : $"{dino.Info.Kernels} (attention forced: {attention.ToString().ToLowerInvariant()})", size = s, batch, threads = nThreads,
            runs, median_ms_per_image = median, min_ms_per_image = perImage[0], max_ms_per_image = perImage[^1], images_per_second = 1000 / median,
            load_ms = loadMs, model_mb = dino.Info.WeightBytes / 1e6, peak_rss_mb = peakRss / 1e6,
            preprocess_1080p_bgr24_ms = frameMs, profile = parts,
        };
        if (json) Console.WriteLine(JsonSerializer.Serialize(result, Shared.Json));
        else
        {
            Console.WriteLine($"{result.model} ({result.weights}), {s}x{s}, batch {batch}, {result.threads} thread(s), {runs} runs");
            Console.WriteLine($"  kernels: {result.kernels}");
            Console.WriteLine($"  {median:F1} ms/image median (min {perImage[0]:F1}, max {perImage[^1]:F1}), {result.images_per_second:F2} images/s");
            Console.WriteLine($"  model {result.model_mb:F1} MB, peak RSS {result.peak_rss_mb:F0} MB, load {loadMs:F0} ms");
            Console.WriteLine($"  preprocessing a 1920x1080 BGR24 camera frame (one thread): {frameMs:F1} ms median");
            if (parts is not null) PrintProfile(parts);
        }
        return ExitCode.Ok;
    }

    // One row of the profile: a kind of op (or a block), per image.
    private sealed record Part(string Name, double MsPerImage, double Share, double GopsPerSecond, double PeakShare, string Peak);

    private sealed record ProfileResult(IReadOnlyList<Part> Kinds, IReadOnlyList<Part> Blocks, double PeakF32Gops, double PeakInt8Gops,
                                        double PeakBf16Gops);

    private static ProfileResult Profile(DinoModel dino, IReadOnlyList<ImageTensor> inputs, int runs, int threads, CancellationToken ct)
    {
        var p = dino.Profile(inputs, runs, ct);
        // The same threads as the runs, right after them: what this CPU can do now.
        var peaks = Enum.GetValues<DinoPeakKind>().ToDictionary(k => k, k => DinoProfile.MeasurePeak(k, threads));
        double perImage = 1000.0 / p.Images, total = p.TotalSeconds;
        Part Row(string name, IEnumerable<DinoProfileEntry> es, double seconds)
        {
            var list = es.ToList();
            double ops = list.Sum(e => e.Operations);
            var units = list.Select(e => e.Peak).Distinct().ToList();
            double peak = units.Count == 1 ? peaks[units[0]] : 0;
            string unit = units.Count == 1 ? units[0] switch { DinoPeakKind.Int8Dot => "int8", DinoPeakKind.Bf16Dot => "bf16", _ => "f32" }
                        : units.Count > 1 ? "mixed" : "";
            return new Part(name, seconds * perImage, seconds / total, seconds > 0 ? ops / seconds / 1e9 : 0,
                            peak > 0 && seconds > 0 ? ops / seconds / peak : 0, unit);
        }
        var kinds = Enum.GetValues<DinoProfileKind>()
            .Select(k => Row(k.ToString().ToLowerInvariant(), p.Entries.Where(e => e.Kind == k), p.Entries.Where(e => e.Kind == k).Sum(e => e.Seconds)))
            .ToList();
        double timed = p.Entries.Sum(e => e.Seconds);
        kinds.Add(new Part("rest", (total - timed) * perImage, (total - timed) / total, 0, 0, ""));
        kinds.Add(Row("total", p.Entries, total) with { Peak = "" , PeakShare = 0 });
        var blocks = p.Entries.GroupBy(e => e.Block)
            .Select(g => Row($"block {g.Key}", g, g.Sum(e => e.Seconds)) with { PeakShare = 0, Peak = "" }).ToList();
        return new ProfileResult(kinds, blocks, peaks[DinoPeakKind.F32Fma] / 1e9, peaks[DinoPeakKind.Int8Dot] / 1e9, peaks[DinoPeakKind.Bf16Dot] / 1e9);
    }

    private static void PrintProfile(ProfileResult p)
    {
        static string Rate(double g, string unit) => g > 0 ? $"{g:F0} {unit}" : "not probed";
        Console.WriteLine($"  peak of this CPU on these threads: f32 FMA {Rate(p.PeakF32Gops, "GFLOP/s")}, int8 dot {Rate(p.PeakInt8Gops, "GOP/s")}, " +
                          $"bf16 dot {Rate(p.PeakBf16Gops, "GFLOP/s")}");
        Console.WriteLine("  part        ms/image  share   GOP/s  of peak");
        foreach (var k in p.Kinds)
        {
            string rate = k.GopsPerSecond > 0 ? $"{k.GopsPerSecond,7:F1}" : "       ";
            string peak = k.PeakShare > 0 ? $"{k.PeakShare,6:P0} {k.Peak}" : "";
            Console.WriteLine($"  {k.Name,-10} {k.MsPerImage,8:F2} {k.Share,6:P0} {rate}  {peak}");
        }
        Console.WriteLine("  per block: " + string.Join(", ", p.Blocks.Select(b => $"{b.Name.Replace("block ", "")}: {b.MsPerImage:F1}")) + " ms/image");
    }

    // The median time to preprocess one 1920 x 1080 BGR24 frame from memory (DinoModel.Preprocess over a span):
    // what a camera loop spends before the embedding, on the caller's thread.
    private static double FramePreprocessMs(DinoModel dino, int runs, CancellationToken ct)
    {
        var frame = new byte[1920 * 1080 * 3];
        new Random(1).NextBytes(frame);
        // Warm-up: .NET compiles a method fully optimised only after some 30 calls (tiered compilation), as a
        // camera loop's steady state has it.
        for (int i = 0; i < 40; i++) dino.Preprocess(frame, 1920, 1080, 1920 * 3, DinoPixelFormat.Bgr24);
        var ms = new List<double>();
        for (int i = 0; i < Math.Max(15, runs); i++)
        {
            ct.ThrowIfCancellationRequested();
            var t = Stopwatch.StartNew();
            dino.Preprocess(frame, 1920, 1080, 1920 * 3, DinoPixelFormat.Bgr24);
            ms.Add(t.Elapsed.TotalMilliseconds);
        }
        ms.Sort();
        return ms[ms.Count / 2];
    }
}
