using System.CommandLine;
using System.Globalization;

namespace Dino.Cli;

internal static class QuantizeCommand
{
    public static Command Create()
    {
        var input = new Argument<string>("IN") { Description = "An f32, f16 or bf16 GGUF model" };
        var output = new Argument<string>("OUT") { Description = "The GGUF file to write" };
        var type = new Option<string>("--type") { HelpName = "TYPE", Description = $"The type of the linear weights: {TypeList()}. With a target, the lowest a layer may take (q4_0, the default then, q5_0 or q8_0)" };
        var calibrate = new Option<string[]>("--calibrate") { HelpName = "PATH", Description = "Calibration images (files or folders; a few dozen photos like yours): an importance matrix for the quantizers, and what targets are measured on", AllowMultipleArgumentsPerToken = true };
        var targetCos = new Option<double>("--target-cos") { HelpName = "C", Description = "Choose each layer's type (q4_0, q5_0, q8_0, f16) for the smallest file whose CLS cosine to IN is at least this, with a margin for unseen images (needs --calibrate)" };
        var maxMb = new Option<double>("--max-mb") { HelpName = "MB", Description = "The largest file, in MB; alone, the closest mix that fits (needs --calibrate)" };
        var calibrateMax = new Option<int>("--calibrate-max") { HelpName = "N", Description = "Calibrate on at most N of the --calibrate images, spread evenly over them (1 to 256; each costs a compute per stage)", DefaultValueFactory = _ => DefaultCalibrationImages };
        var probes = new Option<string[]>("--probe") { HelpName = "PATH", Description = "Images for the drift report, best ones calibration did not see (default: the calibration images, else 4 built-in patterns)", AllowMultipleArgumentsPerToken = true };
        var threads = Shared.Threads();
        var cmd = new Command("quantize", "Convert a model's linear weights with ggml's quantizers, optionally calibrated on your images and mixed per layer to meet a target, then report the drift: the CLS cosine of OUT against IN on probe images.")
        { input, output, type, calibrate, calibrateMax, targetCos, maxMb, probes, threads };
        CliHelp.AddDetails(cmd, """
            K-quants apply where rows are multiples of 256 (in ViT-S/8 only ffn_down); other tensors fall back (see docs/gguf.md).
            With --target-cos or --max-mb, each of the 48 linear layers is measured at q4_0, q5_0 and q8_0 on up to 16 of the
            calibration images (ViT-S/8 on 2 cores: about 2 minutes with 8 images, 4.5 with 16, with AVX-512 VNNI; about 3.5 minutes
            with 8 with AVX2 alone), and the mix is then checked on all of them. The progress lines say the time left.

            Examples:
              dino quantize dino-vits8-f32.gguf dino-vits8-q8_0.gguf --type q8_0
              dino quantize dino-vits8-f32.gguf dino-vits8-q4_0.gguf --type q4_0 --calibrate photos/
              dino quantize dino-vits8-f32.gguf dino-vits8-mix.gguf --calibrate photos/ --target-cos 0.99 --max-mb 17 --probe held-out/
            """);
        cmd.SetAction((r, ct) => Task.FromResult(Run(r.GetValue(input)!, r.GetValue(output)!, r.GetValue(type),
                                                     r.GetValue(calibrate) ?? Array.Empty<string>(), r.GetValue(calibrateMax), r.GetValue(targetCos), r.GetValue(maxMb),
                                                     r.GetValue(probes) ?? Array.Empty<string>(), r.GetValue(threads), ct)));
        return cmd;
    }

    // From the native library, which owns the list; help still works where it cannot load.
    private static string TypeList()
    {
        try { return string.Join(", ", DinoModel.QuantizationTypes); }
        catch (DinoNativeException) { return "a ggml type such as q8_0 or q4_0 (the native library did not load to list them)"; }
    }

    private const int DefaultCalibrationImages = 64;

    private static int Run(string input, string output, string? type, string[] calibratePaths, int calibrateMax, double targetCos, double maxMb,
                           string[] probePaths, int threads, CancellationToken ct)
    {
        if (calibrateMax is < 1 or > QuantizeOptions.MaxCalibrationImages)
            throw new UsageException($"--calibrate-max must be 1 to {QuantizeOptions.MaxCalibrationImages}");
        bool target = targetCos != 0 || maxMb != 0;
        if (type is null && !target) throw new UsageException("--type is required (or a target: --target-cos, --max-mb, with --calibrate)");
        if (target && calibratePaths.Length == 0) throw new UsageException("--target-cos and --max-mb need --calibrate images to measure on");
        if (targetCos != 0 && !(targetCos > 0 && targetCos < 1)) throw new UsageException($"--target-cos {targetCos.ToString(CultureInfo.InvariantCulture)} is not between 0 and 1");
        if (maxMb != 0 && !(maxMb > 0)) throw new UsageException("--max-mb must be a positive size in MB");
        if (Path.GetFullPath(input) == Path.GetFullPath(output)) throw new UsageException("IN and OUT must be different files");
        Shared.RefuseOutputOverInput(output, new[] { input });
        // Output problems are output errors (exit 1), named by OUT, found before minutes of quantizing.
        string folder = Path.GetDirectoryName(Path.GetFullPath(output))!;
        if (!Directory.Exists(folder)) throw new UsageException($"{folder}: no such folder for the output");

        using var before = Shared.Open(input, threads);
        // Calibration and probe images as 'embed' takes inputs: a bad one is skipped, said and counted.
        var failed = new List<string>();
        // Calibration runs at the size the model is used at (its preprocessing's), squared if it would not be.
        var pp = before.DefaultPreprocessing;
        int size = before.Info.InputSize;
        bool square = pp.Crop == size || (pp.Crop == 0 && pp.Resize == size && !pp.ResizeShortestEdge);
        var found = Inputs.Expand(calibratePaths, allowNpy: false, failed);
        var chosen = Spread(found, calibrateMax);  // only these are decoded: 2000 files cost no more than 64
        var calibration = Read(before, chosen, failed, square ? pp : pp with { Resize = size, ResizeShortestEdge = false, Crop = 0 });
        if (calibratePaths.Length > 0 && calibration.Count == 0)
        {
            Console.Error.WriteLine($"dino: no calibration image could be read ({failed.Count} failed): nothing written");
            return ExitCode.SomeInputsFailed;
        }
        if (calibration.Count > 0)
        {
            Console.Error.WriteLine(found.Count > chosen.Count
                ? $"dino: calibrating on {calibration.Count} of {found.Count} images, spread evenly over them (--calibrate-max {calibrateMax})"
                : $"dino: calibrating on {calibration.Count} image(s)");
        }

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var options = new QuantizeOptions
        {
            Type = type, Calibration = calibration, TargetCosine = targetCos, MaxMegabytes = maxMb,
            Threads = threads, Progress = new StageProgress(),
        };
        try { DinoModel.Quantize(input, output, options, ct); }
        catch (DinoModelException e) when (e.Status == DinoStatus.IO && e.Message.StartsWith(output + ":", StringComparison.Ordinal))
        {
            throw new IOException(e.Message, e);
        }
        catch (ArgumentException e) { throw new UsageException(e.Message.Split(" (Parameter")[0]); }
        AtomicFile.RecordFinished(output);
        Console.Error.WriteLine($"dino: wrote {output} ({new FileInfo(output).Length / 1e6:F1} MB, from {new FileInfo(input).Length / 1e6:F1} MB) in {clock.Elapsed.TotalSeconds:F1} s");

        using var after = Shared.Open(output, threads);
        if (after.Info.Quantization.Length > 0) Console.WriteLine($"quantization: {after.Info.Quantization}");
        if (target) PrintChoice(after);

        var probeImages = Read(before, Inputs.Expand(probePaths, allowNpy: false, failed), failed, pp);
        string probeNote = probePaths.Length > 0 ? "probe image(s)" : calibration.Count > 0 ? "calibration image(s)" : "built-in pattern(s)";
        if (probePaths.Length == 0) probeImages = calibration.Count > 0 ? calibration : Probes.Make(4, before.Info.InputSize).ToList();
        if (probeImages.Count == 0)
        {
            Console.Error.WriteLine($"dino: no probe image could be read ({failed.Count} failed): no drift report");
            return ExitCode.SomeInputsFailed;
        }
        var a = before.EmbedBatch(probeImages, cancellationToken: ct);
        var b = after.EmbedBatch(probeImages, cancellationToken: ct);
        var cos = a.Zip(b, (x, y) => DinoEmbedding.CosineSimilarity(x.Embedding, y.Embedding)).ToArray();
        Console.WriteLine($"drift of {after.Info.WeightType} against {before.Info.WeightType}: CLS cosine min {cos.Min():F6}, mean {cos.Average():F6} over {cos.Length} {probeNote}" +
                          (failed.Count > 0 ? $"; {failed.Count} image(s) failed" : ""));
        return failed.Count > 0 ? ExitCode.SomeInputsFailed : ExitCode.Ok;
    }

    // At most max of the files, spread evenly over the list (the first, then every (count / max)-th).
    private static List<string> Spread(List<string> files, int max) =>
        files.Count <= max ? files : Enumerable.Range(0, max).Select(i => files[(int)((long)i * files.Count / max)]).ToList();

    private static List<ImageTensor> Read(DinoModel model, IEnumerable<string> files, List<string> failed, PreprocessOptions options)
    {
        var tensors = new List<ImageTensor>();
        foreach (string p in files)
        {
            try { tensors.Add(model.Preprocess(p, options)); }
            catch (DinoImageException e) { failed.Add(p); Console.Error.WriteLine($"dino: skipped: {e.Message}"); }
        }
        return tensors;
    }

    // Which layers took which type: "q8_0 (10): blk.0.attn_qkv, blk.0.ffn_down, ...".
    private static void PrintChoice(DinoModel model)
    {
        var linear = model.Tensors.Where(t => t.Name.StartsWith("blk.", StringComparison.Ordinal) && t.Name.EndsWith(".weight", StringComparison.Ordinal) && t.Shape.Count == 2);
        foreach (var g in linear.GroupBy(t => t.Type).OrderBy(g => g.Sum(t => t.Bytes) / (double)g.Sum(t => t.Shape[0] * t.Shape[1])))
        {
            var names = g.Select(t => t.Name[..^".weight".Length]).ToList();
            Console.WriteLine($"  {g.Key,-5} {names.Count,2} layer(s), {g.Sum(t => t.Bytes) / 1e6,5:F1} MB{(names.Count <= 16 ? ": " + string.Join(", ", names) : "")}");
        }
    }

    // Native progress, one line per stage (redrawn on a terminal).
    private sealed class StageProgress : IProgress<QuantizeProgress>
    {
        private string? _stage;
        private Progress? _line;

        public void Report(QuantizeProgress p)
        {
            if (p.Stage != _stage) { _stage = p.Stage; _line = new Progress(p.Stage, p.Total); }
            _line!.Report(p.Done);
        }
    }
}
