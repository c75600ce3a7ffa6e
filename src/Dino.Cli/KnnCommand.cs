using System.CommandLine;
using System.Globalization;

namespace Dino.Cli;

/// <summary>'dino knn' (DINO's k-NN evaluation of a test set) and 'dino classify' (labels for images), both by
/// DinoKnnClassifier over a labelled training set.</summary>
internal static class KnnCommand
{
    private static Option<string> Train() => new("--train") { HelpName = "TRAIN", Description = "Labelled examples: a folder of label folders of images, or an index 'dino embed' wrote over one", Required = true };
    private static Option<int> K() => new("-k") { Description = "Neighbours that vote (DINO: 20)", DefaultValueFactory = _ => 20 };
    private static Option<double> Temperature() => new("--temperature") { HelpName = "T", Description = "Votes weigh exp(similarity / T) (DINO: 0.07)", DefaultValueFactory = _ => 0.07 };

    public static Command CreateKnn()
    {
        var model = Shared.Model();
        var threads = Shared.Threads();
        var size = Shared.Size();
        var (train, k, t) = (Train(), K(), Temperature());
        var test = new Option<string>("--test") { HelpName = "TEST", Description = "Labelled examples to classify, as TRAIN", Required = true };
        var cmd = new Command("knn", "DINO's k-NN evaluation: classify every TEST image by the weighted vote of its nearest TRAIN embeddings; print top-1 and top-5 accuracy and the most confused labels.")
        { model, train, test, k, t, threads, size };
        CliHelp.AddDetails(cmd, """
            The vote is facebookresearch/dino eval_knn.py's: the k most similar training embeddings (cosine) each add
            exp(similarity / T) to their label. TRAIN and TEST are folders whose sub-folders are the labels, or indexes
            written by 'dino embed' over such folders (then nothing is embedded again).

            Examples:
              dino knn -m dino-vits8-q8_0.gguf --train photos/train --test photos/val
              dino knn -m model.gguf --train train.npy --test val.npy -k 10
            """);
        cmd.SetAction((r, ct) => Task.FromResult(RunKnn(r.GetValue(model)!, r.GetValue(train)!, r.GetValue(test)!, r.GetValue(k), r.GetValue(t),
                                                        r.GetValue(threads), r.GetValue(size), ct)));
        return cmd;
    }

    public static Command CreateClassify()
    {
        var model = Shared.Model();
        var threads = Shared.Threads();
        var size = Shared.Size();
        var (train, k, t) = (Train(), K(), Temperature());
        var json = new Option<bool>("--json") { Description = "One JSON line per image: path, label, score, and every label's votes" };
        var images = new Argument<string[]>("IMAGE") { Description = "Images or folders to label", Arity = ArgumentArity.OneOrMore };
        var cmd = new Command("classify", "Label images by the weighted vote of their nearest labelled examples (few-shot classification, DINO's k-NN).")
        { model, train, k, t, json, threads, size, images };
        CliHelp.AddDetails(cmd, """
            Prints label, score (the label's share of the votes, 0-1) and path per image.

            Examples:
              dino classify -m dino-vits8-q8_0.gguf --train examples/ frame1.jpg frame2.jpg
              dino classify -m model.gguf --train examples.npy incoming/ --json
            """);
        cmd.SetAction((r, ct) => Task.FromResult(RunClassify(r.GetValue(model)!, r.GetValue(train)!, r.GetValue(images)!, r.GetValue(k), r.GetValue(t),
                                                             r.GetValue(json), r.GetValue(threads), r.GetValue(size), ct)));
        return cmd;
    }

    private static DinoKnnClassifier Classifier(List<(string label, string source, float[] vector)> train, int k, double t)
    {
        if (k < 1) throw new UsageException("-k must be 1 or more");
        if (!(t > 0) || double.IsInfinity(t)) throw new UsageException("--temperature must be a positive number");
        return new DinoKnnClassifier(train.Select(e => (e.label, e.vector)), k, t);
    }

    private static int RunKnn(string modelPath, string trainPath, string testPath, int k, double t, int threads, int? size, CancellationToken ct)
    {
        using var dino = Shared.Open(modelPath, threads);
        var recipe = Shared.Recipe(dino, size);
        var failed = new List<string>();
        var train = LabelledExamples.Load(dino, trainPath, recipe, failed, ct);
        var test = LabelledExamples.Load(dino, testPath, recipe, failed, ct);
        var knn = Classifier(train, k, t);
        int top1 = 0, top5 = 0;
        var confused = new Dictionary<(string truth, string guess), int>();
        foreach (var (label, _, vector) in test)
        {
            ct.ThrowIfCancellationRequested();
            var ranked = knn.Classify(vector);
            if (ranked[0].Label == label) top1++;
            else confused[(label, ranked[0].Label)] = confused.GetValueOrDefault((label, ranked[0].Label)) + 1;
            if (ranked.Take(5).Any(s => s.Label == label)) top5++;
        }
        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine($"k-NN (k = {k}, T = {t.ToString(inv)}) over {train.Count} training example(s) of {knn.Labels.Count} label(s), {test.Count} test example(s)");
        Console.WriteLine($"top-1 {(100.0 * top1 / test.Count).ToString("F2", inv)} %  ({top1}/{test.Count})");
        Console.WriteLine($"top-5 {(100.0 * top5 / test.Count).ToString("F2", inv)} %  ({top5}/{test.Count})");
        foreach (var ((truth, guess), n) in confused.OrderByDescending(p => p.Value).ThenBy(p => p.Key.truth, StringComparer.Ordinal).Take(5))
            Console.WriteLine($"confused: {truth} taken for {guess} {n} time(s)");
        return failed.Count > 0 ? ExitCode.SomeInputsFailed : ExitCode.Ok;
    }

    private static int RunClassify(string modelPath, string trainPath, string[] images, int k, double t, bool json, int threads, int? size,
                                   CancellationToken ct)
    {
        using var dino = Shared.Open(modelPath, threads);
        var recipe = Shared.Recipe(dino, size);
        var failed = new List<string>();
        var knn = Classifier(LabelledExamples.Load(dino, trainPath, recipe, failed, ct), k, t);
        var files = Inputs.Expand(images, allowNpy: false, failed);
        foreach (var r in dino.EmbedEach(files, new EmbedOptions { Preprocess = recipe }, ct))
        {
            if (r.Error is not null) { failed.Add(r.Source); Console.Error.WriteLine($"dino: skipped: {r.Error.Message}"); continue; }
            var ranked = knn.Classify(r.Embedding!.Embedding);
            double total = ranked.Sum(s => s.Score), share = total > 0 ? ranked[0].Score / total : 0;
            if (json)
            {
                Console.WriteLine(System.Text.Json.JsonSerializer.Serialize(new
                {
                    path = r.Source, label = ranked[0].Label, score = share,
                    votes = ranked.ToDictionary(s => s.Label, s => total > 0 ? s.Score / total : 0),
                }));
            }
            else Console.WriteLine($"{ranked[0].Label}\t{share.ToString("F4", CultureInfo.InvariantCulture)}\t{r.Source}");
        }
        return failed.Count > 0 ? ExitCode.SomeInputsFailed : ExitCode.Ok;
    }
}
