using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Dino.IO;

/// <summary>
/// Reading the index files <see cref="DinoIndexWriter"/> writes (npy [N, D] with its paths file, JSON lines, CSV), a
/// row at a time, and the label encodings both share.
/// </summary>
internal static class IndexFile
{
    /// <summary>The labels of an npy index: one per row, in a text file beside it.</summary>
    public static string PathsFile(string npy) => Path.ChangeExtension(npy, null) + ".paths.txt";

    /// <summary>The format a file's extension names: .npy, .csv, .jsonl/.json/.ndjson; null for any other.</summary>
    public static DinoIndexFormat? FormatOf(string path) => Path.GetExtension(path).ToLowerInvariant() switch
    {
        ".npy" => DinoIndexFormat.Npy,
        ".csv" => DinoIndexFormat.Csv,
        ".jsonl" or ".json" or ".ndjson" => DinoIndexFormat.JsonLines,
        _ => null,
    };

    /// <summary>A label as a JSON string: in the paths file with non-ASCII as it is (readable), in JSON lines escaped.</summary>
    public static string JsonString(string label, bool readable)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = readable ? JavaScriptEncoder.UnsafeRelaxedJsonEscaping : null }))
            w.WriteStringValue(label);
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>
    /// A paths-file line: the label as a JSON string, so that any file name (a newline in it, say) stays one line;
    /// in Python, json.loads(line). A line not starting with a quote (older files) is taken as it is.
    /// </summary>
    public static string LabelFromPathsLine(string line, string file, long number)
    {
        if (!line.StartsWith('"')) return line;
        try
        {
            var reader = new Utf8JsonReader(Encoding.UTF8.GetBytes(line));
            if (reader.Read() && reader.TokenType == JsonTokenType.String && reader.GetString() is string s && !reader.Read()) return s;
            throw new JsonException("not one string");
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            throw new InvalidDataException($"{file}:{number}: not a JSON string ({e.Message})");
        }
    }

    /// <summary>The longest line an index file may have: a tokens JSON line of 785 tokens of 384 values is ~4 MB.</summary>
    private const int MaxLineChars = 64 << 20;

    /// <summary>The rows of a JSON lines or CSV index, one at a time (an npy is mapped: <see cref="DinoEmbeddingIndex.OpenMapped"/>).</summary>
    public static IEnumerable<(string label, float[] vector)> ReadText(string path, DinoIndexFormat format) =>
        format == DinoIndexFormat.Csv ? ReadCsv(path) : ReadJsonLines(path);

    /// <summary>
    /// The lines of a text file, each at most <see cref="MaxLineChars"/>: a file with no newline is refused, never held
    /// whole. Read in blocks (a character at a time would cost a call per character of a large index).
    /// </summary>
    public static IEnumerable<string> Lines(string path)
    {
        using var reader = new StreamReader(RegularFile.OpenRead(path), new UTF8Encoding(false));
        var block = new char[1 << 16];
        var line = new StringBuilder();
        int number = 0, n;
        while ((n = reader.Read(block, 0, block.Length)) > 0)
        {
            for (int start = 0; start < n;)
            {
                int end = Array.IndexOf(block, '\n', start, n - start);
                int take = (end < 0 ? n : end) - start;
                if (line.Length + take > MaxLineChars)
                    throw new InvalidDataException($"{path}:{number + 1}: a line longer than {MaxLineChars >> 20} M characters: not an index file");
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
    private static string Trimmed(StringBuilder line)
    {
        if (line.Length > 0 && line[^1] == '\r') line.Length--;
        string s = line.ToString();
        line.Clear();
        return s;
    }

    /// <summary>An npy index's header: its row count and width, the stream left at the first value.</summary>
    public static (long rows, int dim) NpyShape(FileStream f, string path)
    {
        long[] shape = Npy.ReadHeader(f, path, out _);
        if (shape.Length != 2 || shape[1] < 1 || shape[1] > 1 << 20)
            throw new InvalidDataException($"{path}: expected [N, D] embeddings, found [{string.Join(", ", shape)}] (an index of all tokens is not read here)");
        return (shape[0], (int)shape[1]);
    }

    /// <summary>The labels of an npy index of <paramref name="rows"/> rows, from its paths file ("#i" without one).</summary>
    public static IEnumerable<string> NpyLabels(string path, long rows)
    {
        string pathsFile = PathsFile(path);
        if (!File.Exists(pathsFile) || (rows == 0 && new FileInfo(pathsFile).Length == 0))
        {
            for (long i = 0; i < rows; i++) yield return $"#{i}";
            yield break;
        }
        long n = 0;
        foreach (string line in Lines(pathsFile))
        {
            if (n == rows) throw new InvalidDataException($"{pathsFile}: more paths than the {rows} embeddings");
            yield return LabelFromPathsLine(line, pathsFile, ++n);
        }
        if (n < rows) throw new InvalidDataException($"{pathsFile}: {n} paths for {rows} embeddings");
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
                throw new InvalidDataException($"{path}:{line}: not an index line ({{\"path\": ..., \"embedding\": [...]}}): {e.Message}");
            }
            yield return row;
        }
    }

    // A row: "label" (quoted, "" for a quote inside, and a line break too), then the values.
    private static IEnumerable<(string, float[])> ReadCsv(string path)
    {
        int line = 0;
        string? open = null;  // a row whose label's closing quote is on a later line
        foreach (string read in Lines(path))
        {
            line++;
            string text = open == null ? read : open + "\n" + read;
            if (open == null && string.IsNullOrWhiteSpace(text)) continue;
            if (!text.StartsWith('"'))
                throw new InvalidDataException($"{path}:{line}: not an index line (a quoted label, then the values)");
            int end = ClosingQuote(text);
            if (end < 0 && text.Length <= MaxLineChars)
            {
                open = text;
                continue;
            }
            open = null;
            if (end < 0 || end + 1 >= text.Length || text[end + 1] != ',')
                throw new InvalidDataException($"{path}:{line}: not an index line (a quoted label, then the values)");
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
        if (open != null) throw new InvalidDataException($"{path}:{line}: a label whose closing quote never comes");
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
