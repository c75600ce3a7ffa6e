namespace Dino.Cli;

/// <summary>
/// Labelled embeddings for 'dino knn' and 'dino classify': a folder whose sub-folders are the labels (each image
/// labelled by the first folder below the root), or an index written by 'dino embed' over such a folder (each row
/// labelled by its path's parent folder).
/// </summary>
internal static class LabelledExamples
{
    public static List<(string label, string source, float[] vector)> Load(DinoModel model, string path, PreprocessOptions recipe,
                                                                           List<string> failed, CancellationToken ct)
    {
        var examples = new List<(string, string, float[])>();
        if (Directory.Exists(path))
        {
            string root = Path.GetFullPath(path);
            var files = Inputs.Expand(new[] { path }, allowNpy: false, failed);
            var labelled = files.Where(f => Path.GetRelativePath(root, Path.GetFullPath(f)).Contains(Path.DirectorySeparatorChar)).ToList();
            if (labelled.Count < files.Count)
                Console.Error.WriteLine($"dino: {files.Count - labelled.Count} image(s) directly in {path} not used: a label is the name of the folder an image is in");
            foreach (var r in model.EmbedEach(labelled, new EmbedOptions { Preprocess = recipe }, ct))
            {
                if (r.Error is not null) { failed.Add(r.Source); Console.Error.WriteLine($"dino: skipped: {r.Error.Message}"); continue; }
                string label = Path.GetRelativePath(root, Path.GetFullPath(r.Source)).Split(Path.DirectorySeparatorChar)[0];
                examples.Add((label, r.Source, r.Embedding!.Embedding));
            }
        }
        else
        {
            using var index = Shared.OpenIndex(path);
            for (int row = 0; row < index.Count; row++)
            {
                string source = index.GetLabel(row);
                float[] vector = index.GetVector(row).ToArray();
                string? label = Path.GetFileName(Path.GetDirectoryName(source));
                if (string.IsNullOrEmpty(label)) throw new InvalidDataException($"{path}: row '{source}' has no folder to take its label from");
                examples.Add((label, source, vector));
            }
        }
        if (examples.Count == 0) throw new UsageException($"{path}: no labelled images (a folder of label folders, or an index written by 'dino embed' over one)");
        return examples;
    }
}
