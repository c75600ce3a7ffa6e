using System.Globalization;
using System.Text.Json;

namespace Dino.Cli;

/// <summary>
/// The files 'dino embed' writes, read back ('dino similar'): npy [N, D] with its paths file, JSON lines, or CSV.
/// </summary>
internal static class EmbeddingIndex
{
    /// <summary>The labels of an npy output: one path per row, beside it.</summary>
    public static string PathsFile(string npy) => Path.ChangeExtension(npy, null) + ".paths.txt";

    /// <summary>
    /// A paths-file line: the label as a JSON string, so that any file name (a newline in it, say) stays one
    /// line; in Python, json.loads(line). Lines not starting with a quote (older files) are taken as they are.
    /// </summary>
    public static string PathsLine(string label) => JsonSerializer.Serialize(label, PathsJson);

    private static string LabelFromPathsLine(string line, string file, int number)
    {
        if (!line.StartsWith('"')) return line;
        try { return JsonSerializer.Deserialize<string>(line) ?? ""; }
        catch (JsonException e) { throw new InvalidDataException($"{file}:{number}: not a JSON string ({e.Message})"); }
    }

    // Non-ASCII as it is (readable), not \uXXXX; lone surrogates cannot occur in names .NET enumerates.
    private static readonly JsonSerializerOptions PathsJson = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static IEnumerable<string> Lines(string path)
    {
        using var reader = new StreamReader(Dino.IO.RegularFile.OpenRead(path), new System.Text.UTF8Encoding(false));
        while (reader.ReadLine() is { } line) yield return line;
    }

    /// <summary>Every (label, CLS vector) of an index file; an index without rows is an error.</summary>
    public static List<(string label, float[] vector)> Read(string path)
    {
        if (!File.Exists(path)) throw new UsageException($"{path}: no such file or folder");
        var rows = Path.GetExtension(path).ToLowerInvariant() switch
        {
            ".npy" => ReadNpy(path),
            ".csv" => ReadCsv(path),
            _ => ReadJsonLines(path),
        };
        if (rows.Count == 0) throw new InvalidDataException($"{path}: the index holds no embeddings");
        return rows;
    }

    private static List<(string, float[])> ReadNpy(string path)
    {
        var (shape, data) = Npy.Read(path);
        if (shape.Length != 2) throw new InvalidDataException($"{path}: expected [N, D] embeddings, found [{string.Join(", ", shape)}]");
        string pathsFile = PathsFile(path);
        string[] labels = File.Exists(pathsFile)
            ? Lines(pathsFile).Select((l, i) => LabelFromPathsLine(l, pathsFile, i + 1)).ToArray()
            : Enumerable.Range(0, (int)shape[0]).Select(i => $"#{i}").ToArray();
        if (labels.Length != shape[0]) throw new InvalidDataException($"{pathsFile}: {labels.Length} paths for {shape[0]} embeddings");
        int d = (int)shape[1];
        return Enumerable.Range(0, labels.Length).Select(i => (labels[i], data.AsSpan(i * d, d).ToArray())).ToList();
    }

    private static List<(string, float[])> ReadJsonLines(string path)
    {
        var list = new List<(string, float[])>();
        int line = 0;
        foreach (string text in Lines(path))
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
                throw new InvalidDataException($"{path}:{line}: not a line written by 'dino embed --format jsonl' ({e.Message})");
            }
        }
        return list;
    }

    // A row: "label" (quoted, "" for a quote inside), then the values.
    private static List<(string, float[])> ReadCsv(string path)
    {
        var list = new List<(string, float[])>();
        int line = 0;
        foreach (string text in Lines(path))
        {
            line++;
            if (string.IsNullOrWhiteSpace(text)) continue;
            int end = text.Length > 0 && text[0] == '"' ? ClosingQuote(text) : -1;
            if (end < 0 || end + 1 >= text.Length || text[end + 1] != ',')
                throw new InvalidDataException($"{path}:{line}: not a line written by 'dino embed --format csv' (a quoted path, then the values)");
            string label = text[1..end].Replace("\"\"", "\"");
            var values = text[(end + 2)..].Split(',');
            var v = new float[values.Length];
            for (int i = 0; i < values.Length; i++)
            {
                if (!float.TryParse(values[i], NumberStyles.Float, CultureInfo.InvariantCulture, out v[i]))
                    throw new InvalidDataException($"{path}:{line}: value {i + 1} ('{values[i]}') is not a number");
            }
            list.Add((label, v));
        }
        return list;
    }

    private static int ClosingQuote(string s)
    {
        for (int i = 1; i < s.Length; i++)
        {
            if (s[i] != '"') continue;
            if (i + 1 < s.Length && s[i + 1] == '"') { i++; continue; }
            return i;
        }
        return -1;
    }
}
