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
        var cmd = new Command("bench", "Time the model: one warm-up call, then --runs calls on built-in images; prints the median and spread of milliseconds per image, and the peak memory of the process.")
        { model, batch, threads, runs, size, json };
        CliHelp.AddDetails(cmd, """
            Compare variants side by side in one session: the machine's load changes the absolute numbers.

            Examples:
              dino bench -m dino-vits8-q8_0.gguf --threads 2 --runs 20
              dino bench -m model.gguf --batch 8 --json
            """);
        cmd.SetAction((r, ct) => Task.FromResult(Run(r.GetValue(model)!, r.GetValue(batch), r.GetValue(threads), r.GetValue(runs),
                                                     r.GetValue(size), r.GetValue(json), ct)));
        return cmd;
    }

    private static int Run(string modelPath, int batch, int threads, int runs, int? size, bool json, CancellationToken ct)
    {
        if (runs < 1) throw new UsageException("--runs must be 1 or more");
        var load = Stopwatch.StartNew();
        using var dino = Shared.Open(modelPath, threads, batch);
        double loadMs = load.Elapsed.TotalMilliseconds;
        int s = size ?? dino.Info.ImageSize;
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
        var result = new
        {
            model = dino.Info.Name, weights = dino.Info.WeightType, kernels = dino.Info.Kernels, size = s, batch, threads = threads == 0 ? Environment.ProcessorCount : threads,
            runs, median_ms_per_image = median, min_ms_per_image = perImage[0], max_ms_per_image = perImage[^1], images_per_second = 1000 / median,
            load_ms = loadMs, model_mb = dino.Info.WeightBytes / 1e6, peak_rss_mb = peakRss / 1e6,
        };
        if (json) Console.WriteLine(JsonSerializer.Serialize(result, Shared.Json));
        else
        {
            Console.WriteLine($"{result.model} ({result.weights}), {s}x{s}, batch {batch}, {result.threads} thread(s), {runs} runs");
            Console.WriteLine($"  kernels: {result.kernels}");
            Console.WriteLine($"  {median:F1} ms/image median (min {perImage[0]:F1}, max {perImage[^1]:F1}), {result.images_per_second:F2} images/s");
            Console.WriteLine($"  model {result.model_mb:F1} MB, peak RSS {result.peak_rss_mb:F0} MB, load {loadMs:F0} ms");
        }
        return ExitCode.Ok;
    }
}
