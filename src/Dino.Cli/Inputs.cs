namespace Dino.Cli;

/// <summary>Files named on the command line: files as given, folders searched recursively, sorted.</summary>
internal static class Inputs
{
    public static readonly string[] ImageExtensions = { ".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp" };

    public static bool IsImage(string path) => ImageExtensions.Contains(Path.GetExtension(path).ToLowerInvariant());

    // Images by their name that the decoder does not read (TIFF, HEIF, AVIF, camera raw, ...): the summary names them
    // apart from the rest of a folder's files, so that a folder of TIFFs does not look like a folder of nothing.
    private static readonly string[] OtherImageExtensions =
    {
        ".tif", ".tiff", ".heic", ".heif", ".avif", ".jxl", ".jp2", ".j2k", ".ico", ".tga", ".psd", ".pbm", ".pgm", ".ppm",
        ".pnm", ".exr", ".hdr", ".dng", ".cr2", ".cr3", ".nef", ".arw", ".orf", ".rw2", ".raf", ".svg", ".jfif",
    };

    /// <summary>
    /// The files to read: files as given; folders searched recursively, sorted (ordinal). Links
    /// to folders inside a folder are not followed (as find(1) and os.walk do), so no folder is read twice and
    /// a link loop cannot recurse; each is noted on stderr. A folder that cannot be read and a name .NET cannot
    /// represent are reported, and returned in <paramref name="failed"/> for the caller to count. Images in folders
    /// are recognised by their extension (<see cref="ImageExtensions"/>, and .npy where allowed); the other files
    /// go to <paramref name="ignored"/>, for the caller's summary.
    /// </summary>
    public static List<string> Expand(IEnumerable<string> paths, bool allowNpy, List<string> failed, List<string>? ignored = null)
    {
        var files = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (string p in paths)
        {
            if (Directory.Exists(p))
            {
                var found = new List<string>();
                Walk(p, allowNpy, found, failed, ignored);
                found.Sort(StringComparer.Ordinal);
                foreach (string f in found) if (seen.Add(Path.GetFullPath(f))) files.Add(f);
            }
            else if (File.Exists(p) || new FileInfo(p).LinkTarget != null)
            {
                if (seen.Add(Path.GetFullPath(p))) files.Add(p);
            }
            else throw new UsageException($"{p}: no such file or folder");
        }
        return files;
    }

    private static void Walk(string dir, bool allowNpy, List<string> found, List<string> failed, List<string>? ignored)
    {
        List<FileSystemInfo> entries;
        try
        {
            entries = new DirectoryInfo(dir).EnumerateFileSystemInfos("*", new EnumerationOptions { IgnoreInaccessible = false }).ToList();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            failed.Add(dir);
            Report($"skipped: {dir}: cannot read the folder ({e.Message})");
            return;
        }
        var files = new List<string>();
        var folders = new List<string>();
        foreach (var entry in entries)
        {
            string path = Path.Combine(dir, entry.Name);
            if (entry is DirectoryInfo)
            {
                if (entry.LinkTarget != null) Report($"note: {path}: a link to a folder, not followed");
                else folders.Add(path);
            }
            else if (IsImage(entry.Name) || (allowNpy && entry.Name.EndsWith(".npy", StringComparison.OrdinalIgnoreCase)))
            {
                if (entry.Name.Contains('\uFFFD'))
                {
                    // .NET decodes file names as UTF-8; a name that is not cannot be opened again.
                    failed.Add(path);
                    Report($"skipped: {path}: the file name is not valid UTF-8, which .NET cannot open (rename it)");
                }
                else files.Add(path);
            }
            else ignored?.Add(path);
        }
        found.AddRange(files);
        foreach (string f in folders) Walk(f, allowNpy, found, failed, ignored);
    }

    private static void Report(string message) => Console.Error.WriteLine($"dino: {message}");

    /// <summary>
    /// The summary's note on the files folders held that were not read ("" if none): first the ones that look like
    /// images in a format the decoder does not read, by extension, then the rest.
    /// </summary>
    public static string IgnoredNote(List<string> ignored, bool npyRead)
    {
        if (ignored.Count == 0) return "";
        string Ext(string f) => Path.GetExtension(f).ToLowerInvariant();
        var imageLike = ignored.Where(f => OtherImageExtensions.Contains(Ext(f)) || (!npyRead && Ext(f) == ".npy")).ToList();
        var rest = ignored.Except(imageLike).ToList();
        var parts = new List<string>();
        if (imageLike.Count > 0)
        {
            string kinds = string.Join(", ", imageLike.GroupBy(Ext).OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal).Select(g => $"{g.Count()} {g.Key}"));
            string why = imageLike.Any(f => Ext(f) != ".npy") ? $"formats not read: only {string.Join(" ", ImageExtensions)}" : "";
            string npy = imageLike.Any(f => Ext(f) == ".npy") ? "--npy reads .npy tensors in folders" : "";
            parts.Add($"{kinds} not read ({string.Join("; ", new[] { why, npy }.Where(x => x.Length > 0))})");
        }
        if (rest.Count > 0) parts.Add($"{rest.Count} other file(s) not read (e.g. {Path.GetFileName(rest[0])})");
        return "; in the folders, " + string.Join(", and ", parts);
    }

    /// <summary>An image file, or the tensors of a .npy file.</summary>
    public static IEnumerable<(string label, ImageTensor tensor)> Tensors(DinoModel dino, string path, PreprocessOptions recipe)
    {
        if (!path.EndsWith(".npy", StringComparison.OrdinalIgnoreCase))
            return new[] { (path, dino.Preprocess(path, recipe)) };
        var (shape, data) = Dino.IO.Npy.Read(path);
        if (shape.Length == 3) shape = new[] { 1L }.Concat(shape).ToArray();
        if (shape.Length != 4 || shape[1] != 3)
            throw new InvalidDataException($"{path}: not a [3, H, W] or [N, 3, H, W] float32 tensor (its shape is [{string.Join(", ", shape)}])");
        int n = (int)shape[0], h = (int)shape[2], w = (int)shape[3], size = 3 * h * w;
        return Enumerable.Range(0, n).Select(i => (n == 1 ? path : $"{path}[{i}]", new ImageTensor(data.AsSpan(i * size, size).ToArray(), h, w)));
    }
}
