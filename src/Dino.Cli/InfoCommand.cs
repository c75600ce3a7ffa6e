using System.CommandLine;
using System.Globalization;
using System.Text.Json;

namespace Dino.Cli;

internal static class InfoCommand
{
    public static Command Create()
    {
        var json = new Option<bool>("--json") { Description = "Print JSON" };
        var tensors = new Option<bool>("--tensors") { Description = "List every tensor" };
        var path = new Argument<string?>("MODEL") { Description = "A GGUF model file", Arity = ArgumentArity.ZeroOrOne };
        var model = new Option<string?>("--model", "-m") { Description = "The model, as the other commands take it (instead of MODEL)" };
        var cmd = new Command("info", "Show a model: hyperparameters, weight types and sizes, file size, preprocessing defaults.")
        { path, model, json, tensors };
        CliHelp.AddDetails(cmd, """
            Examples:
              dino info dino-vits8-q8_0.gguf
              dino info model.gguf --json --tensors
            """);
        cmd.SetAction(r => Run(r.GetValue(path), r.GetValue(model), r.GetValue(json), r.GetValue(tensors)));
        return cmd;
    }

    private static int Run(string? argument, string? option, bool json, bool listTensors)
    {
        if (argument != null && option != null) throw new UsageException("give the model once: as MODEL or as -m, not both");
        string path = argument ?? option ?? throw new UsageException("no model: dino info MODEL (or -m MODEL)");
        using var m = DinoModel.Load(path, new DinoModelOptions { CheckWeights = false });
        var i = m.Info;
        var p = m.DefaultPreprocessing;
        long fileBytes = new FileInfo(path).Length;
        var byType = m.Tensors.GroupBy(t => t.Type).Select(g => new { type = g.Key, count = g.Count(), bytes = g.Sum(t => t.Bytes) }).ToList();
        if (json)
        {
            var o = new Dictionary<string, object?>
            {
                ["path"] = path, ["file_bytes"] = fileBytes, ["info"] = InfoJson(i),
                ["preprocess"] = new { p.Resize, p.ResizeShortestEdge, p.Crop, resample = p.Resample.ToString().ToLowerInvariant(), p.RescaleFactor, p.Mean, p.Std },
                ["tensor_types"] = byType,
                ["tensors"] = m.Tensors,  // always: --tensors is for the text form
                ["native"] = DinoNativeLibrary.Version,
                ["native_files"] = DinoNativeLibrary.LoadedFrom,
            };
            Console.WriteLine(JsonSerializer.Serialize(o, Shared.Json));
            return ExitCode.Ok;
        }
        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine($"model        {i.Name} ({path}, {fileBytes / 1e6:F1} MB)");
        string family = i.Family == "dinov2" ? "DINOv2" : "DINO";
        string positions = i.PositionInterpolation switch
        {
            PositionInterpolation.Size => "bicubic to size",
            PositionInterpolation.SizeAntialias => "antialiased bicubic to size",
            _ => "bicubic, DINO's scale factors",
        };
        Console.WriteLine($"architecture {family} ViT: width {i.EmbeddingLength}, {i.BlockCount} blocks, {i.HeadCount} heads, MLP {i.FeedForwardLength}{(i.SwiGlu ? " (SwiGLU)" : "")}, patch {i.PatchSize}{(i.RegisterCount > 0 ? $", {i.RegisterCount} registers" : "")}");
        Console.WriteLine($"input        {i.InputSize}x{i.InputSize} by default; position grid for {i.ImageSize}x{i.ImageSize}, interpolated for other sizes ({positions})");
        Console.WriteLine($"parameters   {i.ParameterCount:N0} ({i.WeightBytes / 1e6:F1} MB in memory)");
        Console.WriteLine($"weights      {i.WeightType} (linear layers); LayerNorm eps {i.LayerNormEps.ToString("G", inv)}");
        Console.WriteLine($"kernels      {i.Kernels}");
        Console.WriteLine($"native       {DinoNativeLibrary.Version}: {DinoNativeLibrary.LoadedFrom}");
        if (i.Quantization.Length > 0) Console.WriteLine($"quantization {i.Quantization}");
        string resize = p.Resize == 0 ? "no resize" : p.ResizeShortestEdge ? $"shorter side to {p.Resize}" : $"resize to {p.Resize}x{p.Resize}";
        Console.WriteLine($"preprocess   {resize} {p.Resample.ToString().ToLowerInvariant()}{(p.Crop > 0 ? $", center crop {p.Crop}" : "")}, " +
                          $"x{p.RescaleFactor.ToString("G6", inv)}, mean ({string.Join(", ", p.Mean.Select(x => x.ToString("G4", inv)))}), std ({string.Join(", ", p.Std.Select(x => x.ToString("G4", inv)))})");
        foreach (var t in byType) Console.WriteLine($"tensors      {t.count,4} x {t.type,-5} {t.bytes / 1e6,8:F2} MB");
        if (listTensors)
        {
            foreach (var t in m.Tensors)
                Console.WriteLine($"  {t.Name,-28} {t.Type,-5} [{string.Join(", ", t.Shape)}] {t.Bytes:N0} B");
        }
        return ExitCode.Ok;
    }

    // The info as JSON, without "quantization" where the file does not say (as other absent values are).
    private static System.Text.Json.Nodes.JsonObject InfoJson(DinoModelInfo info)
    {
        var o = JsonSerializer.SerializeToNode(info, Shared.Json)!.AsObject();
        if (info.Quantization.Length == 0) o.Remove("quantization");
        return o;
    }
}
