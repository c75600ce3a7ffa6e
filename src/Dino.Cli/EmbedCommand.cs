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
        var weights7Bit = Shared.Weights7Bit();
        var output = new Option<string?>("--output", "-o") { Description = "Output file (default: stdout for jsonl and csv; npy needs a file)" };
        var format = new Option<string?>("--format", "-f") { Description = "npy, jsonl or csv (default: from the -o extension, which must then be .npy, .jsonl or .csv; without -o, jsonl)" };
        format.AcceptOnlyFromAmong("npy", "jsonl", "csv");
        var normalize = new Option<bool>("--normalize") { Description = "Scale every vector to unit length (cosine = dot product)" };
        var tokens = new Option<bool>("--tokens") { Description = "Write every token (CLS first, then patches): npy [N, T, D], jsonl \"tokens\"" };
        var npy = new Option<bool>("--npy") { Description = "Also read the .npy tensors found in folders (a .npy named as a PATH is always read)" };
        var update = new Option<bool>("--update") { Description = "Embed only the files new or changed since INDEX (-o) was written with --update, drop the rows of files gone, keep the rest as they are" };
        var paths = new Argument<string[]>("PATH") { Description = "Image files, folders (searched recursively, sorted), or .npy tensors [3,H,W] / [N,3,H,W] already preprocessed", Arity = ArgumentArity.OneOrMore };

        var cmd = new Command("embed", "Embed images: the CLS embedding of each (and, with --tokens, all tokens).")
        { model, output, format, batch, threads, size, attention, weights7Bit, normalize, tokens, npy, update, paths };
        CliHelp.AddDetails(cmd, """
            In folders, images are recognised by their extension (.jpg .jpeg .png .gif .webp .bmp, and with --npy .npy tensors);
            other files are not read, and the summary line counts them, naming image formats it does not read (.tif, .heic, ...).
            A file named on the command line is always read, whatever its name.
            A bad image is reported on stderr, skipped and counted; the run goes on (exit code 1 if any failed). The output is written to a temporary file and renamed when complete.

            With --update, INDEX keeps NAME.stamps.jsonl beside it (each row's file, size and modification time, and the model
            and options it was made with): a later --update embeds only files that are new or changed, drops the rows of files
            that are gone and keeps every other row bit for bit. Files finished so far are journalled in INDEX.journal, so a
            run stopped in any way leaves the old index whole and the next --update goes on from there.

            Examples:
              dino embed -m dino-vits8-q8_0.gguf photos/ -o photos.npy      (float32 [N, 384] + photos.paths.txt)
              dino embed -m model.gguf a.jpg b.png --normalize              (JSON lines on stdout)
              dino embed -m model.gguf tensor.npy --format csv
              dino embed -m dino-vits8-q8_0.gguf photos/ -o photos.npy --update   (again later: only what changed)
            """);

        cmd.SetAction((r, ct) => Task.FromResult(Run(
            r.GetValue(model)!, r.GetValue(paths)!, r.GetValue(output), r.GetValue(format), r.GetValue(batch),
            r.GetValue(threads), r.GetValue(size), r.GetValue(attention), r.GetValue(weights7Bit), r.GetValue(normalize), r.GetValue(tokens),
            r.GetValue(npy), r.GetValue(update), ct)));
        return cmd;
    }

    private static int Run(string modelPath, string[] paths, string? output, string? format, int batch, int threads,
                           int? size, AttentionKernel attention, bool weights7Bit, bool normalize, bool tokens, bool npyInFolders, bool updating,
                           CancellationToken ct)
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
        if (updating && (output == null || special != null)) throw new UsageException("--update needs the index file to update (-o INDEX)");
        if (updating && Path.GetDirectoryName(Path.GetFullPath(output!)) is string folder && !Directory.Exists(folder))
            throw new UsageException($"{folder}: no such folder for the output");
        if (updating && tokens) throw new UsageException("--update keeps an index of CLS embeddings; --tokens writes all tokens (run without --update)");
        var failed = new List<string>();
        var ignored = new List<string>();
        var files = Inputs.Expand(paths, allowNpy: npyInFolders, failed, ignored);
        Shared.RefuseOutputOverInput(output, files.Append(modelPath));
        if (indexFormat == DinoIndexFormat.Npy) Shared.RefuseOutputOverInput(DinoEmbeddingIndex.PathsFile(output!), files.Append(modelPath));
        if (files.Count == 0 && failed.Count == 0) throw new UsageException("no images found in the given paths");

        using var dino = Shared.Open(modelPath, threads, batch, attention, weights7Bit);
        var recipe = Shared.Recipe(dino, size);
        var options = new EmbedOptions { Tokens = tokens };
        int dim = dino.Info.EmbeddingLength;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        // A file is replaced only when complete (npy with its paths file); JSON lines or CSV on stdout come row by row.
        AtomicFile? file = null, pathsFile = null, stampsFile = null;
        try
        {
            IndexUpdate? update = null;
            var toEmbed = files;
            if (updating)
            {
                update = IndexUpdate.Plan(output!, indexFormat, files, IndexUpdate.Recipe(modelPath, recipe, attention, weights7Bit, normalize), dim);
                toEmbed = update.ToEmbed;
            }
            // Outputs are opened when their rows come: at once for a plain run (rows are written as they are made),
            // at the end for an update (a killed update leaves only its journal, no temporary files).
            DinoIndexWriter Open()
            {
                file = output == null ? null : new AtomicFile(output);
                pathsFile = indexFormat == DinoIndexFormat.Npy ? new AtomicFile(DinoEmbeddingIndex.PathsFile(output!)) : null;
                stampsFile = updating ? new AtomicFile(IndexUpdate.StampsFile(output!)) : null;
                return new DinoIndexWriter(file?.Stream ?? Console.OpenStandardOutput(), indexFormat, dim, pathsFile?.Stream, tokens);
            }
            var sink = update == null ? Open() : null;
            int? firstTokens = null;
            int embedded = Embed(dino, toEmbed, recipe, options, normalize, batch, failed, ct, (f, rows) =>
            {
                if (update != null)
                {
                    update.Embedded(f, rows);
                    return;
                }
                foreach (var (label, v) in rows)
                {
                    if (indexFormat == DinoIndexFormat.Npy && tokens && (firstTokens ??= v.Length / dim) != v.Length / dim)
                        throw new UsageException($"{label} has {v.Length / dim} tokens where earlier images had {firstTokens}: --tokens with npy needs one size (use --size)");
                    sink!.Write(label, v);
                }
                sink!.Flush();
            }, () => update?.Sync());
            sink ??= Open();
            int written = update?.Write(files, sink, stampsFile!.Stream) ?? (int)sink.Count;
            sink.Finish();
            file?.Commit();
            pathsFile?.Commit();
            stampsFile?.Commit();
            update?.Finish();
            string failures = failed.Count > 0 ? $"; {failed.Count} failed: {string.Join(", ", failed.Take(10))}{(failed.Count > 10 ? ", ..." : "")}" : "";
            Console.Error.WriteLine((update == null
                ? $"dino: embedded {written} image(s) in {clock.Elapsed.TotalSeconds:F1} s{(output != null ? $" into {output}" : "")}"
                : $"dino: updated {output} ({written} rows): {update.Added} added, {update.Changed} changed, {update.Removed} removed, {update.Kept} kept; " +
                  $"{embedded} embedded in {clock.Elapsed.TotalSeconds:F1} s{(update.Resumed > 0 ? $", {update.Resumed} taken from the interrupted run's journal" : "")}")
                + failures + Inputs.IgnoredNote(ignored, npyRead: npyInFolders));
        }
        finally
        {
            file?.Dispose();
            pathsFile?.Dispose();
            stampsFile?.Dispose();
        }
        return failed.Count > 0 ? ExitCode.SomeInputsFailed : ExitCode.Ok;
    }

    /// <summary>
    /// Embeds the files in batches, handing each file's rows (its CLS vector, or all its tokens; a .npy of N tensors
    /// gives N rows) to <paramref name="onFile"/>; a file that cannot be read or computed is reported, counted in
    /// <paramref name="failed"/> and skipped (all of a file, or none of it). Returns how many rows were computed.
    /// </summary>
    private static int Embed(DinoModel dino, List<string> files, PreprocessOptions recipe, EmbedOptions options, bool normalize, int batch,
                             List<string> failed, CancellationToken ct, Action<string, List<(string label, float[] vector)>> onFile, Action afterBatch)
    {
        var progress = new Progress("embed", files.Count);
        int done = 0, embedded = 0, dim = dino.Info.EmbeddingLength;
        foreach (var chunk in files.Chunk(batch))
        {
            ct.ThrowIfCancellationRequested();
            var owners = new List<string>();
            var labels = new List<string>();
            var tensors = new List<ImageTensor>();
            foreach (string f in chunk)
            {
                try
                {
                    var read = Inputs.Tensors(dino, f, recipe).ToList();  // all of a file, or none of it
                    owners.AddRange(read.Select(_ => f));
                    labels.AddRange(read.Select(r => r.label));
                    tensors.AddRange(read.Select(r => r.tensor));
                }
                catch (Exception e) when (e is DinoImageException or InvalidDataException or IOException or UnauthorizedAccessException or ArgumentException)
                {
                    failed.Add(f);
                    Console.Error.WriteLine($"{(Console.IsErrorRedirected ? "" : "\r")}dino: skipped: {e.Message}");
                }
            }
            // Each tensor alone where the batch cannot be computed: only the unusable ones fail.
            var results = tensors.Count > 0 ? dino.EmbedEach(tensors, options, ct) : Array.Empty<DinoEmbeddingResult>();
            for (int i = 0; i < results.Count;)
            {
                string f = owners[i];
                var rows = new List<(string, float[])>();
                bool ok = true;
                for (; i < results.Count && owners[i] == f; i++)
                {
                    if (results[i].Embedding is not DinoEmbedding e)
                    {
                        ok = false;
                        Console.Error.WriteLine($"dino: skipped {labels[i]}: {results[i].Error!.Message}");
                        continue;
                    }
                    float[] v = options.Tokens ? e.Tokens! : e.Embedding;
                    if (normalize) for (int row = 0; row < v.Length; row += dim) DinoEmbedding.Normalize(v.AsSpan(row, dim));  // each token
                    rows.Add((labels[i], v));
                }
                if (!ok) { failed.Add(f); continue; }
                onFile(f, rows);
                embedded += rows.Count;
            }
            afterBatch();
            done += chunk.Length;
            progress.Report(done, failed.Count);
        }
        return embedded;
    }
}
