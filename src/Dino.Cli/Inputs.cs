namespace Dino.Cli;

/// <summary>Files named on the command line: files as given, folders searched recursively, sorted.</summary>
internal static class Inputs
{
    public static readonly string[] ImageExtensions = { ".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp" };

    public static bool IsImage(string path) => ImageExtensions.Contains(Path.GetExtension(path).ToLowerInvariant());

    public static List<string> Expand(IEnumerable<string> paths, bool allowNpy)
    {
        var files = new List<string>();
        foreach (string p in paths)
        {
            if (Directory.Exists(p))
            {
                files.AddRange(Directory.EnumerateFiles(p, "*", new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true })
                    .Where(f => IsImage(f) || (allowNpy && f.EndsWith(".npy", StringComparison.OrdinalIgnoreCase)))
                    .Order(StringComparer.Ordinal));
            }
            else if (File.Exists(p)) files.Add(p);
            else throw new UsageException($"{p}: no such file or folder");
        }
        return files;
    }

    /// <summary>An image file, or the tensors of a .npy file.</summary>
    public static IEnumerable<(string label, ImageTensor tensor)> Tensors(DinoModel dino, string path, PreprocessOptions recipe)
    {
        if (!path.EndsWith(".npy", StringComparison.OrdinalIgnoreCase))
            return new[] { (path, dino.Preprocess(path, recipe)) };
        var (shape, data) = Npy.Read(path);
        if (shape.Length == 3) shape = new[] { 1L }.Concat(shape).ToArray();
        if (shape.Length != 4 || shape[1] != 3)
            throw new InvalidDataException($"{path}: expected a float32 [3, H, W] or [N, 3, H, W] tensor, found [{string.Join(", ", shape)}]");
        int n = (int)shape[0], h = (int)shape[2], w = (int)shape[3], size = 3 * h * w;
        return Enumerable.Range(0, n).Select(i => (n == 1 ? path : $"{path}[{i}]", new ImageTensor(data.AsSpan(i * size, size).ToArray(), h, w)));
    }
}
