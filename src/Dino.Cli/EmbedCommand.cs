using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;

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
        format ??= output == null || special != null ? "jsonl" : Path.GetExtension(output).ToLowerInvariant() switch
        {
            ".npy" => "npy",
            ".csv" => "csv",
            ".jsonl" or ".json" or ".ndjson" => "jsonl",
            // Not a guess: '-o x.npz' silently holding JSON lines is worse than asking.
            var ext => throw new UsageException($"-o {output}: '{(ext.Length > 0 ? ext : "no extension")}' says no format; " +
                                                "name it .npy, .jsonl or .csv, or give --format"),
        };
        if (format == "npy" && (output == null || special != null))
            throw new UsageException("--format npy needs an output file (-o FILE.npy): it writes the row count last, and its paths beside it");
        if (format == "csv" && tokens) throw new UsageException("--tokens needs --format npy or jsonl");
        var failed = new List<string>();
        var ignored = new List<string>();
        var files = Inputs.Expand(paths, allowNpy: npyInFolders, failed, ignored);
        Shared.RefuseOutputOverInput(output, files.Append(modelPath));
        if (format == "npy") Shared.RefuseOutputOverInput(EmbeddingIndex.PathsFile(output!), files.Append(modelPath));
        if (files.Count == 0 && failed.Count == 0) throw new UsageException("no images found in the given paths");

        using var dino = Shared.Open(modelPath, threads, batch, attention);
        var recipe = Shared.Recipe(dino, size);
        var options = new EmbedOptions { Tokens = tokens };
        using var sink = Sink.Open(format, output, dino.Info.EmbeddingLength, tokens);
        var progress = new Progress("embed", files.Count);
        int done = 0, written = 0;
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
                    sink.Write(labels[i], v, tokens ? e.TokenCount : 0);
                    written++;
                }
            }
            done += chunk.Length;
            progress.Report(done, failed.Count);
        }
        sink.Commit();
        Console.Error.WriteLine($"dino: embedded {written} image(s) in {clock.Elapsed.TotalSeconds:F1} s" +
                                (output != null ? $" into {output}" : "") +
                                (failed.Count > 0 ? $"; {failed.Count} failed: {string.Join(", ", failed.Take(10))}{(failed.Count > 10 ? ", ..." : "")}" : "") +
                                Inputs.IgnoredNote(ignored, npyRead: npyInFolders));
        return failed.Count > 0 ? ExitCode.SomeInputsFailed : ExitCode.Ok;
    }

    /// <summary>Where vectors go: npy (+ paths file), JSON lines or CSV, to a file (atomically) or stdout.</summary>
    private abstract class Sink : IDisposable
    {
        public static Sink Open(string format, string? output, int dim, bool tokens) => format switch
        {
            "npy" => new NpySink(output!, dim, tokens),
            _ => new TextSink(format, output),
        };

        /// <summary>One image: its CLS vector (tokenCount 0) or all its tokens.</summary>
        public abstract void Write(string label, float[] vector, int tokenCount);
        public abstract void Commit();
        public abstract void Dispose();
    }

    private sealed class NpySink : Sink
    {
        private const int HeaderBytes = 128;  // fixed, so the real shape can be written over the placeholder at the end
        private readonly AtomicFile _file;
        private readonly AtomicFile _paths;
        private readonly StreamWriter _pathWriter;
        private readonly int _dim;
        private readonly bool _tokens;
        private long _rows;
        private int _tokenCount = -1;

        public NpySink(string output, int dim, bool tokens)
        {
            (_dim, _tokens) = (dim, tokens);
            _file = new AtomicFile(output);
            _paths = new AtomicFile(EmbeddingIndex.PathsFile(output));
            _pathWriter = new StreamWriter(_paths.Stream, new UTF8Encoding(false));
            _file.Stream.Write(new byte[HeaderBytes]);
        }

        public override void Write(string label, float[] vector, int tokenCount)
        {
            if (_tokens)
            {
                if (_tokenCount >= 0 && tokenCount != _tokenCount)
                    throw new UsageException($"{label} has {tokenCount} tokens where earlier images had {_tokenCount}: --tokens with npy needs one size (use --size)");
                _tokenCount = tokenCount;
            }
            _file.Stream.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(vector.AsSpan()));
            _pathWriter.WriteLine(EmbeddingIndex.PathsLine(label));
            _rows++;
        }

        public override void Commit()
        {
            long[] shape = _tokens ? new[] { _rows, Math.Max(_tokenCount, 0), _dim } : new[] { _rows, (long)_dim };
            byte[] header = Npy.Header(shape);
            if (header.Length != HeaderBytes) throw new InvalidOperationException("npy header size");
            _file.Stream.Position = 0;
            _file.Stream.Write(header);
            _pathWriter.Flush();
            _file.Commit();
            _paths.Commit();
        }

        public override void Dispose()
        {
            _file.Dispose();
            _paths.Dispose();
        }
    }

    private sealed class TextSink : Sink
    {
        private readonly AtomicFile? _file;
        private readonly TextWriter _w;
        private readonly bool _csv;

        public TextSink(string format, string? output)
        {
            _csv = format == "csv";
            _file = output == null ? null : new AtomicFile(output);
            _w = _file == null ? Console.Out : new StreamWriter(_file.Stream, new UTF8Encoding(false));
        }

        public override void Write(string label, float[] vector, int tokenCount)
        {
            var sb = new StringBuilder();
            if (_csv)
            {
                sb.Append('"').Append(label.Replace("\"", "\"\"")).Append('"');
                foreach (float v in vector) sb.Append(',').Append(v.ToString("R", CultureInfo.InvariantCulture));
            }
            else
            {
                sb.Append("{\"path\": ").Append(JsonSerializer.Serialize(label)).Append(", \"embedding\": ");
                int dim = tokenCount > 0 ? vector.Length / tokenCount : vector.Length;
                AppendArray(sb, vector.AsSpan(0, dim));
                if (tokenCount > 0)
                {
                    sb.Append(", \"tokens\": [");
                    for (int t = 0; t < tokenCount; t++)
                    {
                        if (t > 0) sb.Append(", ");
                        AppendArray(sb, vector.AsSpan(t * dim, dim));
                    }
                    sb.Append(']');
                }
                sb.Append('}');
            }
            _w.WriteLine(sb.ToString());
        }

        private static void AppendArray(StringBuilder sb, ReadOnlySpan<float> v)
        {
            sb.Append('[');
            for (int i = 0; i < v.Length; i++)
            {
                if (i > 0) sb.Append(", ");
                sb.Append(v[i].ToString("R", CultureInfo.InvariantCulture));
            }
            sb.Append(']');
        }

        public override void Commit()
        {
            _w.Flush();
            _file?.Commit();
        }

        public override void Dispose() => _file?.Dispose();
    }
}
