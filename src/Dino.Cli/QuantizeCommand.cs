using System.CommandLine;

namespace Dino.Cli;

internal static class QuantizeCommand
{
    public static Command Create()
    {
        var input = new Argument<string>("IN") { Description = "An f32, f16 or bf16 GGUF model" };
        var output = new Argument<string>("OUT") { Description = "The GGUF file to write" };
        var type = new Option<string>("--type") { Description = $"The type of the linear weights: {TypeList()}", Required = true };
        var probes = new Option<string[]>("--probe") { Description = "Images for the drift report (default: 4 built-in patterns)", AllowMultipleArgumentsPerToken = true };
        var threads = Shared.Threads();
        var cmd = new Command("quantize", "Convert a model's linear weights with ggml's quantizers, then report the drift: the CLS cosine of OUT against IN on a few probe images.")
        { input, output, type, probes, threads };
        CliHelp.AddDetails(cmd, """
            K-quants apply where rows are multiples of 256 (in ViT-S/8 only ffn_down); other tensors fall back (see docs/gguf.md).

            Examples:
              dino quantize dino-vits8-f32.gguf dino-vits8-q8_0.gguf --type q8_0
              dino quantize dino-vits8-f32.gguf dino-vits8-q4_k.gguf --type q4_k --probe photos/
            """);
        cmd.SetAction((r, ct) => Task.FromResult(Run(r.GetValue(input)!, r.GetValue(output)!, r.GetValue(type)!,
                                                     r.GetValue(probes) ?? Array.Empty<string>(), r.GetValue(threads), ct)));
        return cmd;
    }

    // From the native library, which owns the list; help still works where it cannot load.
    private static string TypeList()
    {
        try { return string.Join(", ", DinoModel.QuantizationTypes); }
        catch (DinoNativeException) { return "a ggml type such as q8_0 or q4_0 (the native library did not load to list them)"; }
    }

    private static int Run(string input, string output, string type, string[] probePaths, int threads, CancellationToken ct)
    {
        if (Path.GetFullPath(input) == Path.GetFullPath(output)) throw new UsageException("IN and OUT must be different files");
        // Output problems are output errors (exit 1), named by OUT, found before minutes of quantizing.
        string folder = Path.GetDirectoryName(Path.GetFullPath(output))!;
        if (!Directory.Exists(folder)) throw new IOException($"{output}: cannot write it: the folder {folder} does not exist");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        try { DinoModel.Quantize(input, output, type); }
        catch (DinoModelException e) when (e.Status == DinoStatus.IO && e.Message.StartsWith(output + ":", StringComparison.Ordinal))
        {
            throw new IOException(e.Message, e);
        }
        Console.Error.WriteLine($"dino: wrote {output} ({new FileInfo(output).Length / 1e6:F1} MB, from {new FileInfo(input).Length / 1e6:F1} MB) in {clock.Elapsed.TotalSeconds:F1} s");

        using var before = Shared.Open(input, threads);
        using var after = Shared.Open(output, threads);
        // Probe images as 'embed' takes inputs: a bad one is skipped, said and counted; the model is written anyway.
        var failed = new List<string>();
        var tensors = probePaths.Length == 0 ? Probes.Make(4, before.Info.ImageSize).ToList() : new List<ImageTensor>();
        foreach (string p in Inputs.Expand(probePaths, allowNpy: false, failed))
        {
            try { tensors.Add(before.Preprocess(p)); }
            catch (DinoImageException e) { failed.Add(p); Console.Error.WriteLine($"dino: skipped: {e.Message}"); }
        }
        if (tensors.Count == 0)
        {
            Console.Error.WriteLine($"dino: no probe image could be read ({failed.Count} failed): no drift report");
            return ExitCode.SomeInputsFailed;
        }
        var a = before.EmbedBatch(tensors, cancellationToken: ct);
        var b = after.EmbedBatch(tensors, cancellationToken: ct);
        var cos = a.Zip(b, (x, y) => DinoEmbedding.CosineSimilarity(x.Embedding, y.Embedding)).ToArray();
        Console.WriteLine($"drift of {after.Info.WeightType} against {before.Info.WeightType}: CLS cosine min {cos.Min():F6}, mean {cos.Average():F6} over {cos.Length} probe image(s)" +
                          (failed.Count > 0 ? $"; {failed.Count} probe(s) failed" : ""));
        return failed.Count > 0 ? ExitCode.SomeInputsFailed : ExitCode.Ok;
    }
}
