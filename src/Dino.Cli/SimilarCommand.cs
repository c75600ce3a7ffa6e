using System.CommandLine;
using System.Globalization;
using System.Text.Json;

namespace Dino.Cli;

internal static class SimilarCommand
{
    public static Command Create()
    {
        var model = Shared.Model();
        var threads = Shared.Threads();
        var size = Shared.Size();
        var k = new Option<int>("-k", "--top") { Description = "How many nearest to print", DefaultValueFactory = _ => 5 };
        var query = new Argument<string>("QUERY") { Description = "The query image (or a preprocessed .npy tensor)" };
        var index = new Argument<string>("INDEX") { Description = "Embeddings written by 'dino embed' (.npy with its .paths.txt, or .jsonl), or a folder of images" };

        var cmd = new Command("similar", "Print the images of INDEX nearest to QUERY by cosine similarity of their CLS embeddings.")
        { model, k, threads, size, query, index };
        CliHelp.AddDetails(cmd, """
            Examples:
              dino similar -m model.gguf query.jpg photos.npy -k 10
              dino similar -m model.gguf query.jpg photos/
            """);
        cmd.SetAction((r, ct) => Task.FromResult(Run(r.GetValue(model)!, r.GetValue(query)!, r.GetValue(index)!, r.GetValue(k),
                                                     r.GetValue(threads), r.GetValue(size), ct)));
        return cmd;
    }

    private static int Run(string modelPath, string query, string index, int k, int threads, int? size, CancellationToken ct)
    {
        if (k < 1) throw new UsageException("-k must be 1 or more");
        using var dino = Shared.Open(modelPath, threads);
        var recipe = Shared.Recipe(dino, size);
        float[] q = dino.Embed(EmbedCommand.Load(dino, query, recipe).First().tensor, cancellationToken: ct).Embedding;

        int failed = 0;
        List<(string label, float[] vector)> entries;
        if (Directory.Exists(index))
        {
            entries = new();
            foreach (string f in Inputs.Expand(new[] { index }, allowNpy: false))
            {
                ct.ThrowIfCancellationRequested();
                try { entries.Add((f, dino.Embed(dino.Preprocess(f, recipe), cancellationToken: ct).Embedding)); }
                catch (DinoImageException e) { failed++; Console.Error.WriteLine($"dino: skipped: {e.Message}"); }
            }
        }
        else entries = ReadIndex(index);

        var wrong = entries.FirstOrDefault(e => e.vector.Length != q.Length);
        if (wrong.vector != null)
            throw new InvalidDataException($"{index}: vectors of {wrong.vector.Length} values, the model's have {q.Length} (made with another model, or with --tokens?)");
        var ranked = entries.Select(e => (e.label, cos: DinoEmbedding.CosineSimilarity(q, e.vector)))
                            .OrderByDescending(x => x.cos).Take(k).ToList();
        Console.WriteLine("rank\tcosine\tpath");
        for (int i = 0; i < ranked.Count; i++)
            Console.WriteLine($"{i + 1}\t{ranked[i].cos.ToString("F4", CultureInfo.InvariantCulture)}\t{ranked[i].label}");
        return failed > 0 ? ExitCode.SomeInputsFailed : ExitCode.Ok;
    }

    private static List<(string, float[])> ReadIndex(string path)
    {
        if (!File.Exists(path)) throw new UsageException($"{path}: no such file or folder");
        if (path.EndsWith(".npy", StringComparison.OrdinalIgnoreCase))
        {
            var (shape, data) = Npy.Read(path);
            if (shape.Length != 2) throw new InvalidDataException($"{path}: expected [N, D] embeddings, found [{string.Join(", ", shape)}]");
            string pathsFile = Path.ChangeExtension(path, null) + ".paths.txt";
            string[] labels = File.Exists(pathsFile) ? File.ReadAllLines(pathsFile) : Enumerable.Range(0, (int)shape[0]).Select(i => $"#{i}").ToArray();
            if (labels.Length != shape[0]) throw new InvalidDataException($"{pathsFile}: {labels.Length} paths for {shape[0]} embeddings");
            int d = (int)shape[1];
            return Enumerable.Range(0, labels.Length).Select(i => (labels[i], data.AsSpan(i * d, d).ToArray())).ToList();
        }
        var list = new List<(string, float[])>();
        int line = 0;
        foreach (string text in File.ReadLines(path))
        {
            line++;
            if (string.IsNullOrWhiteSpace(text)) continue;
            try
            {
                using var doc = JsonDocument.Parse(text);
                string label = doc.RootElement.GetProperty("path").GetString() ?? $"#{line}";
                float[] v = doc.RootElement.GetProperty("embedding").EnumerateArray().Select(x => x.GetSingle()).ToArray();
                list.Add((label, v));
            }
            catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
            {
                throw new InvalidDataException($"{path}:{line}: not a line written by 'dino embed' ({e.Message})");
            }
        }
        return list;
    }
}
