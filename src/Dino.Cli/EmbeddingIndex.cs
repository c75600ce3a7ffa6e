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

    /// <summary>The longest line an index file may have: a --tokens JSON line of 785 tokens of 384 values is ~4 MB.</summary>
    private const int MaxLineChars = 64 << 20;

    // The lines of a text file, each at most MaxLineChars: a file with no newline is refused, never held whole.
    // Read in blocks (a character at a time would cost a call per character of a large index).
    private static IEnumerable<string> Lines(string path)
    {
        using var reader = new StreamReader(Dino.IO.RegularFile.OpenRead(path), new System.Text.UTF8Encoding(false));
        var block = new char[1 << 16];
        var line = new System.Text.StringBuilder();
        int number = 0, n;
        while ((n = reader.Read(block, 0, block.Length)) > 0)
        {
            for (int start = 0; start < n;)
            {
                int end = Array.IndexOf(block, '\n', start, n - start);
                int take = (end < 0 ? n : end) - start;
                if (line.Length + take > MaxLineChars)
                    throw new InvalidDataException($"{path}:{number + 1}: a line longer than {MaxLineChars >> 20} M characters: not an index dino wrote");
                line.Append(block, start, take);
                if (end < 0) break;
                number++;
                yield return Trimmed(line);
                start = end + 1;
            }
        }
        if (line.Length > 0) yield return Trimmed(line);
    }

    // The line so far without its '\r' (CRLF files), and the builder emptied for the next.
    private static string Trimmed(System.Text.StringBuilder line)
    {
        if (line.Length > 0 && line[^1] == '\r') line.Length--;
        string s = line.ToString();
        line.Clear();
        return s;
    }

    /// <summary>
    /// Every (label, CLS vector) of an index file, read one row at a time (memory stays at a row, whatever the
    /// file's size); a value that is not finite, or an index without rows, is an error.
    /// </summary>
    public static IEnumerable<(string label, float[] vector)> Read(string path)
    {
        if (!File.Exists(path)) throw new UsageException($"{path}: no such file or folder");
        var rows = Path.GetExtension(path).ToLowerInvariant() switch
        {
            ".npy" => ReadNpy(path),
            ".csv" => ReadCsv(path),
            _ => ReadJsonLines(path),
        };
        return Checked(rows, path);
    }

    private static IEnumerable<(string, float[])> Checked(IEnumerable<(string, float[])> rows, string path)
    {
        long n = 0;
        foreach (var (label, v) in rows)
        {
            n++;
            if (!Array.TrueForAll(v, float.IsFinite))
                throw new InvalidDataException($"{path}: row {n} ({label}) holds a value that is not a finite number");
            yield return (label, v);
        }
        if (n == 0) throw new InvalidDataException($"{path}: the index holds no embeddings");
    }

    private static IEnumerable<(string, float[])> ReadNpy(string path)
    {
        using FileStream f = Dino.IO.RegularFile.OpenRead(path);
        long[] shape = Npy.ReadHeader(f, path, out _);
        if (shape.Length != 2 || shape[1] < 1 || shape[1] > 1 << 20)
            throw new InvalidDataException($"{path}: expected [N, D] embeddings, found [{string.Join(", ", shape)}]");
        string pathsFile = PathsFile(path);
        using var labels = File.Exists(pathsFile) ? Lines(pathsFile).GetEnumerator() : null;
        int d = (int)shape[1];
        var bytes = new byte[d * 4];
        for (long i = 0; i < shape[0]; i++)
        {
            string label = $"#{i}";
            if (labels != null)
            {
                if (!labels.MoveNext()) throw new InvalidDataException($"{pathsFile}: {i} paths for {shape[0]} embeddings");
                label = LabelFromPathsLine(labels.Current, pathsFile, (int)Math.Min(i + 1, int.MaxValue));
            }
            f.ReadExactly(bytes);
            var v = new float[d];
            Buffer.BlockCopy(bytes, 0, v, 0, bytes.Length);
            yield return (label, v);
        }
        if (labels != null && labels.MoveNext()) throw new InvalidDataException($"{pathsFile}: more paths than the {shape[0]} embeddings");
    }

    private static IEnumerable<(string, float[])> ReadJsonLines(string path)
    {
        int line = 0;
        foreach (string text in Lines(path))
        {
            line++;
            if (string.IsNullOrWhiteSpace(text)) continue;
            (string, float[]) row;
            try
            {
                using var doc = JsonDocument.Parse(text);
                string label = doc.RootElement.GetProperty("path").GetString() ?? $"#{line}";
                row = (label, doc.RootElement.GetProperty("embedding").EnumerateArray().Select(x => x.GetSingle()).ToArray());
            }
            catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
            {
                throw new InvalidDataException($"{path}:{line}: not a line written by 'dino embed --format jsonl' ({e.Message})");
            }
            yield return row;
        }
    }

    // A row: "label" (quoted, "" for a quote inside), then the values.
    private static IEnumerable<(string, float[])> ReadCsv(string path)
    {
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
            yield return (label, v);
        }
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
