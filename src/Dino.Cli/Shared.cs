using System.CommandLine;

namespace Dino.Cli;

/// <summary>Options several commands share, so they read the same everywhere.</summary>
internal static class Shared
{
    public static Option<string> Model() => new("--model", "-m")
    {
        Description = "The GGUF model file (convert one with scripts/convert_gguf.py)",
        Required = true,
    };

    public static Option<int> Threads() => new("--threads", "-t")
    {
        Description = "Compute threads per image batch (0 = the cores this process may use: CPU affinity, container quota)",
        DefaultValueFactory = _ => 0,
    };

    public static Option<int?> Size() => new("--size", "-s")
    {
        Description = "Input size in pixels, a multiple of 8 (default: the model's own preprocessing)",
    };

    public static Option<AttentionKernel> Attention() => new("--attention")
    {
        Description = "The attention kernel: auto (the library's choice for the model: `dino info` says which), exact, flash (f32), bf16 (bf16 products where the CPU has them), int8 (int8 products)",
        DefaultValueFactory = _ => AttentionKernel.Auto,
    };

    public static Option<bool> Weights7Bit() => new("--weights-7bit")
    {
        Description = "Round q8_0 weights to 7 bits at load: about 1.3x faster linear layers on x86 CPUs without VNNI (AVX2), a little less exact elsewhere for no gain (README, \"7-bit weights\")",
    };

    public static Option<int> Batch() => new("--batch", "-b")
    {
        Description = "Images computed together",
        DefaultValueFactory = _ => 8,
    };

    /// <summary>How every --json output is written: snake_case names throughout, indented.</summary>
    public static readonly System.Text.Json.JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,  // absent, not null
        WriteIndented = true,
    };

    public static DinoModel Open(string path, int threads, int batch = 8, AttentionKernel attention = AttentionKernel.Auto, bool weights7Bit = false)
    {
        if (batch < 1) throw new UsageException("--batch must be 1 or more");
        var model = DinoModel.Load(path, new DinoModelOptions
        {
            ThreadsPerCall = threads, MaxBatchSize = batch, Attention = attention,
            Int8Weights = weights7Bit ? Int8Weights.SevenBit : Int8Weights.AsStored,
        });
        WarnIfOversubscribed(threads);
        return model;
    }

    /// <summary>
    /// Refuses an output that is one of the inputs (the same file: the same path, or a symbolic or hard link
    /// to it), before anything is computed: written over, the input would be gone.
    /// </summary>
    public static void RefuseOutputOverInput(string? output, IEnumerable<string> inputs)
    {
        if (output == null || AtomicFile.StandardStream(output) > 0) return;
        foreach (string input in inputs)
        {
            if (Dino.IO.RegularFile.SameFile(output, input))
                throw new UsageException($"{output} is the input {input}: the output must be another file");
        }
    }

    /// <summary>More threads than the cores this process may use run, but slower than fewer would: say so.</summary>
    public static void WarnIfOversubscribed(int threads)
    {
        if (threads > Environment.ProcessorCount)
            Console.Error.WriteLine($"dino: warning: --threads {threads} is more than the {Environment.ProcessorCount} cores this process may use; " +
                                    "the extra threads wait on the others (0 takes the cores there are)");
    }

    /// <summary>An index file: an npy mapped (memory stays at what is read), JSON lines or CSV read (by the extension; JSON lines for any other).</summary>
    public static DinoEmbeddingIndex OpenIndex(string path)
    {
        if (!File.Exists(path)) throw new UsageException($"{path}: no such file or folder");
        var format = DinoEmbeddingIndex.FormatOf(path) ?? DinoIndexFormat.JsonLines;
        return format == DinoIndexFormat.Npy ? DinoEmbeddingIndex.OpenMapped(path) : DinoEmbeddingIndex.Load(path, format);
    }

    /// <summary>The model's recipe, with its output size changed to size (crop if it crops, else the resize).</summary>
    public static PreprocessOptions Recipe(DinoModel model, int? size)
    {
        var p = model.DefaultPreprocessing;
        if (size is not int s) return p;
        if (s < 8 || s % model.Info.PatchSize != 0)
            throw new UsageException($"--size must be a multiple of the patch size {model.Info.PatchSize}");
        if (s > 8192) throw new UsageException("--size is at most 8192 (the largest side the engine computes)");
        return p.Crop > 0 ? p with { Crop = s, Resize = (int)Math.Round((double)s * p.Resize / p.Crop) }
                          : p with { Resize = s, ResizeShortestEdge = false };
    }
}
