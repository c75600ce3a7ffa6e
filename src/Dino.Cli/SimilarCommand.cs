using System.CommandLine;
using System.Globalization;

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
        float[] q = dino.Embed(Inputs.Tensors(dino, query, recipe).First().tensor, cancellationToken: ct).Embedding;

        int failed = 0;
        using var entries = Directory.Exists(index) ? new DinoEmbeddingIndex(q.Length) : Shared.OpenIndex(index);
        if (Directory.Exists(index))
        {
            var unreadable = new List<string>();
            var files = Inputs.Expand(new[] { index }, allowNpy: false, unreadable);
            failed += unreadable.Count;
            foreach (string f in files)
            {
                ct.ThrowIfCancellationRequested();
                try { entries.Add(f, dino.Embed(dino.Preprocess(f, recipe), cancellationToken: ct).Embedding); }
                catch (DinoImageException e) { failed++; Console.Error.WriteLine($"dino: skipped: {e.Message}"); }
            }
        }
        else if (entries.Dimensions != q.Length)
            throw new InvalidDataException($"{index}: vectors of {entries.Dimensions} values, the model's have {q.Length} (made with another model, or with --tokens?)");
        else if (entries.Count == 0) throw new InvalidDataException($"{index}: the index holds no embeddings");

        var ranked = entries.Search(q, k);
        Console.WriteLine("rank\tcosine\tpath");
        for (int i = 0; i < ranked.Count; i++)
            Console.WriteLine($"{i + 1}\t{ranked[i].Cosine.ToString("F4", CultureInfo.InvariantCulture)}\t{Printable(ranked[i].Label)}");
        return failed > 0 ? ExitCode.SomeInputsFailed : ExitCode.Ok;
    }

    // One result per line: a label with a control character (a newline in a file name) is printed as its JSON string.
    private static string Printable(string label) => label.Any(char.IsControl) ? System.Text.Json.JsonSerializer.Serialize(label, Readable) : label;

    private static readonly System.Text.Json.JsonSerializerOptions Readable = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
}
