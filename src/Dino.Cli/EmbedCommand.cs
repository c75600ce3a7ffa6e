using System.CommandLine;

namespace Dino.Cli;

internal static class EmbedCommand
{
    public static Command Create()
    {
        var model = Shared.Model();
        var threads = Shared.Threads();
        var size = Shared.Size();
        var batch = Shared.Batch();
        var attention = Shared.Attention();
        var output = new Option<string?>("--output", "-o") { Description = "Output file (default: stdout for jsonl and csv; npy needs a file)" };
        var format = new Option<string?>("--format", "-f") { Description = "npy, jsonl or csv (default: from the -o extension, which must then be .npy, .jsonl or .csv; without -o, jsonl)" };
        format.AcceptOnlyFromAmong("npy", "jsonl", "csv");
        var normalize = new Option<bool>("--normalize") { Description = "Scale every vector to unit length (cosine = dot product)" };
        var tokens = new Option<bool>("--tokens") { Description = "Write every token (CLS first, then patches): npy [N, T, D], jsonl \"tokens\"" };
        var npy = new Option<bool>("--npy") { Description = "Also read the .npy tensors found in folders (a .npy named as a PATH is always read)" };
        var paths = new Argument<string[]>("PATH") { Description = "Image files, folders (searched recursively, sorted), or .npy tensors [3,H,W] / [N,3,H,W] already preprocessed", Arity = ArgumentArity.OneOrMore };

        var cmd = new Command("embed", "Embed images: the CLS embedding of each (and, with --tokens, all tokens).")
        { model, output, format, batch, threads, size, attention, normalize, tokens, npy, paths };
        CliHelp.AddDetails(cmd, """
            In folders, images are recognised by their extension (.jpg .jpeg .png .gif .webp .bmp, and with --npy .npy tensors);
            other files are not read, and the summary line counts them, naming image formats it does not read (.tif, .heic, ...).
            A file named on the command line is always read, whatever its name.
            A bad image is reported on stderr, skipped and counted; the run goes on (exit code 1 if any failed). The output is written to a temporary file and renamed when complete.

            Examples:
              dino embed -m dino-vits8-q8_0.gguf photos/ -o photos.npy      (float32 [N, 384] + photos.paths.txt)
              dino embed -m model.gguf a.jpg b.png --normalize              (JSON lines on stdout)
              dino embed -m model.gguf tensor.npy --format csv
            """);

        cmd.SetAction((r, ct) => Task.FromResult(Run(
            r.GetValue(model)!, r.GetValue(paths)!, r.GetValue(output), r.GetValue(format), r.GetValue(batch),
            r.GetValue(threads), r.GetValue(size), r.GetValue(attention), r.GetValue(normalize), r.GetValue(tokens), r.GetValue(npy), ct)));
        return cmd;
    }

    private static int Run(string modelPath, string[] paths, string? output, string? format, int batch, int threads,
                           int? size, AttentionKernel attention, bool normalize, bool tokens, bool npyInFolders, CancellationToken ct)
    {
        // A device or FIFO (/dev/stdout, a pipe) takes JSON lines, as stdout does; a folder is no output at all.
        string? special = output == null ? null
            : AtomicFile.StandardStream(output) > 0 ? "standard output" : Dino.IO.RegularFile.NonRegularKind(Path.GetFullPath(output));
        if (special == "a folder") throw new UsageException($"{output}: is a folder, not a file");
        // Not a guess: '-o x.npz' silently holding JSON lines is worse than asking.
        DinoIndexFormat indexFormat = format switch
        {
            "npy" => DinoIndexFormat.Npy,
            "csv" => DinoIndexFormat.Csv,
            "jsonl" => DinoIndexFormat.JsonLines,
            _ when output == null || special != null => DinoIndexFormat.JsonLines,
            _ => DinoEmbeddingIndex.FormatOf(output) ?? throw new UsageException(
                $"-o {output}: '{(Path.GetExtension(output) is { Length: > 0 } ext ? ext : "no extension")}' says no format; name it .npy, .jsonl or .csv, or give --format"),
        };
        if (indexFormat == DinoIndexFormat.Npy && (output == null || special != null))
            throw new UsageException("--format npy needs an output file (-o FILE.npy): it writes the row count last, and its paths beside it");
        if (indexFormat == DinoIndexFormat.Csv && tokens) throw new UsageException("--tokens needs --format npy or jsonl");
        var failed = new List<string>();
        var ignored = new List<string>();
        var files = Inputs.Expand(paths, allowNpy: npyInFolders, failed, ignored);
        Shared.RefuseOutputOverInput(output, files.Append(modelPath));
        if (indexFormat == DinoIndexFormat.Npy) Shared.RefuseOutputOverInput(DinoEmbeddingIndex.PathsFile(output!), files.Append(modelPath));
        if (files.Count == 0 && failed.Count == 0) throw new UsageException("no images found in the given paths");

        using var dino = Shared.Open(modelPath, threads, batch, attention);
        var recipe = Shared.Recipe(dino, size);
        var options = new EmbedOptions { Tokens = tokens };
        // A file is replaced only when complete (npy with its paths file); JSON lines or CSV on stdout come row by row.
        using var file = output == null ? null : new AtomicFile(output);
        using var pathsFile = indexFormat == DinoIndexFormat.Npy ? new AtomicFile(DinoEmbeddingIndex.PathsFile(output!)) : null;
        var sink = new DinoIndexWriter(file?.Stream ?? Console.OpenStandardOutput(), indexFormat, dino.Info.EmbeddingLength, pathsFile?.Stream, tokens);
        var progress = new Progress("embed", files.Count);
        int done = 0, written = 0;
        int? firstTokens = null;
        var clock = System.Diagnostics.Stopwatch.StartNew();

        foreach (var chunk in files.Chunk(batch))
        {
            ct.ThrowIfCancellationRequested();
            var labels = new List<string>();
            var tensors = new List<ImageTensor>();
            foreach (string f in chunk)
            {
                try
                {
                    var read = Inputs.Tensors(dino, f, recipe).ToList();  // all of a file, or none of it
                    labels.AddRange(read.Select(r => r.label));
                    tensors.AddRange(read.Select(r => r.tensor));
                }
                catch (Exception e) when (e is DinoImageException or InvalidDataException or IOException or UnauthorizedAccessException or ArgumentException)
                {
                    failed.Add(f);
                    Console.Error.WriteLine($"{(Console.IsErrorRedirected ? "" : "\r")}dino: skipped: {e.Message}");
                }
            }
            if (tensors.Count > 0)
            {
                // Each tensor alone where the batch cannot be computed: only the unusable ones fail.
                var results = dino.EmbedEach(tensors, options, ct);
                for (int i = 0; i < results.Count; i++)
                {
                    if (results[i].Embedding is not DinoEmbedding e)
                    {
                        failed.Add(labels[i]);
                        Console.Error.WriteLine($"dino: skipped {labels[i]}: {results[i].Error!.Message}");
                        continue;
                    }
                    float[] v = tokens ? e.Tokens! : e.Embedding;
                    int dim = dino.Info.EmbeddingLength;
                    if (normalize) for (int row = 0; row < v.Length; row += dim) DinoEmbedding.Normalize(v.AsSpan(row, dim));  // each token
                    if (indexFormat == DinoIndexFormat.Npy && tokens && (firstTokens ??= e.TokenCount) != e.TokenCount)
                        throw new UsageException($"{labels[i]} has {e.TokenCount} tokens where earlier images had {firstTokens}: --tokens with npy needs one size (use --size)");
                    sink.Write(labels[i], v);
                    written++;
                }
                sink.Flush();
            }
            done += chunk.Length;
            progress.Report(done, failed.Count);
        }
        sink.Finish();
        file?.Commit();
        pathsFile?.Commit();
        Console.Error.WriteLine($"dino: embedded {written} image(s) in {clock.Elapsed.TotalSeconds:F1} s" +
                                (output != null ? $" into {output}" : "") +
                                (failed.Count > 0 ? $"; {failed.Count} failed: {string.Join(", ", failed.Take(10))}{(failed.Count > 10 ? ", ..." : "")}" : "") +
                                Inputs.IgnoredNote(ignored, npyRead: npyInFolders));
        return failed.Count > 0 ? ExitCode.SomeInputsFailed : ExitCode.Ok;
    }
}
