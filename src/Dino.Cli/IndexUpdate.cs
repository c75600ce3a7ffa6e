using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Dino.Cli;

/// <summary>
/// 'dino embed --update': which files of an index are new, changed or gone since it was written, from the stamps kept
/// beside it (NAME.stamps.jsonl: per row its file's path, size and modification time, and a hash of the row, so that
/// a row is kept only while it is the one the stamp describes), and a journal (INDEX.journal) of the files embedded so
/// far, so that a run stopped in any way, SIGKILL included, leaves the old index whole and the next run resumes. Every
/// stamp file and journal starts with the recipe (model file hash, preprocessing, attention, --normalize): rows made
/// another way are never mixed in.
/// </summary>
internal sealed class IndexUpdate
{
    private const int Version = 1;
    private readonly string _index;
    private readonly string _recipe;
    private readonly Dictionary<string, FileRows> _kept = new(StringComparer.Ordinal);
    private readonly Dictionary<string, FileRows> _embedded = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (long length, long mtime)> _stat = new(StringComparer.Ordinal);
    private FileStream? _journal;

    /// <summary>A file's rows (an image has one; a .npy of N tensors has N) and the file as it was when they were made.</summary>
    private sealed record FileRows(long Length, long Mtime, List<(string label, float[] vector)> Rows);

    public static string StampsFile(string index) => Path.ChangeExtension(index, null) + ".stamps.jsonl";

    public static string JournalFile(string index) => index + ".journal";

    /// <summary>The files to embed this run, in input order.</summary>
    public List<string> ToEmbed { get; } = new();

    public int Added { get; private set; }
    public int Changed { get; private set; }
    public int Removed { get; private set; }
    public int Kept => _kept.Count;
    public int Resumed { get; private set; }

    private IndexUpdate(string index, string recipe) => (_index, _recipe) = (index, recipe);

    /// <summary>The recipe line: what an index's rows depend on besides the image.</summary>
    public static string Recipe(string modelPath, PreprocessOptions preprocess, AttentionKernel attention, bool weights7Bit, bool normalize)
    {
        string hash;
        using (var model = Dino.IO.RegularFile.OpenRead(modelPath)) hash = Convert.ToHexString(SHA256.HashData(model)).ToLowerInvariant();
        var recipe = new Dictionary<string, object>
        {
            ["dino_index_stamps"] = Version,
            ["model_sha256"] = hash,
            ["preprocess"] = preprocess.ToString(),
            ["attention"] = attention.ToString(),
            ["normalize"] = normalize,
        };
        if (weights7Bit) recipe["int8_weights"] = Int8Weights.SevenBit.ToString();  // (absent by default: older indexes' stamps still match)
        return JsonSerializer.Serialize(recipe);
    }

    /// <summary>Compares <paramref name="files"/> with the index at <paramref name="index"/> (if any) and its stamps and journal.</summary>
    public static IndexUpdate Plan(string index, DinoIndexFormat format, List<string> files, string recipe, int dimensions)
    {
        var update = new IndexUpdate(index, recipe);
        foreach (string f in files)
        {
            var info = new FileInfo(f);
            update._stat[f] = info.Exists ? (info.Length, info.LastWriteTimeUtc.Ticks) : (-1, -1);
        }
        var old = File.Exists(index) ? update.ReadIndex(index, format, dimensions) : new Dictionary<string, FileRows>(StringComparer.Ordinal);
        var resumable = update.ReadJournal(dimensions);
        foreach (string f in files)
        {
            var stat = update._stat[f];
            if (old.TryGetValue(f, out var rows) && (rows.Length, rows.Mtime) == stat) update._kept[f] = rows;
            else if (resumable.TryGetValue(f, out rows) && (rows.Length, rows.Mtime) == stat)
            {
                update._embedded[f] = rows;
                update.Resumed++;
                if (old.ContainsKey(f)) update.Changed++; else update.Added++;
            }
            else
            {
                update.ToEmbed.Add(f);
                if (old.ContainsKey(f)) update.Changed++; else update.Added++;
            }
        }
        update.Removed = old.Keys.Count(f => !update._stat.ContainsKey(f));
        return update;
    }

    // The old index's rows by file, for the rows whose stamp matches them (label and hash); any other row is
    // embedded again. Without stamps (an index written without --update) every row is.
    private Dictionary<string, FileRows> ReadIndex(string index, DinoIndexFormat format, int dimensions)
    {
        var byFile = new Dictionary<string, FileRows>(StringComparer.Ordinal);
        string stampsFile = StampsFile(index);
        if (!File.Exists(stampsFile))
        {
            Note($"{index} has no stamps ({Path.GetFileName(stampsFile)}: it was not written with --update): every image is embedded again this time");
            return byFile;
        }
        var stamps = new Dictionary<string, (string file, long length, long mtime, string hash)>(StringComparer.Ordinal);
        bool first = true;
        foreach (string line in File.ReadLines(stampsFile))
        {
            if (first)
            {
                first = false;
                if (line != _recipe)
                    throw new UsageException($"{index} was made with {Differences(line, _recipe)}; --update would mix the two in one index: " +
                                             "run with the same options, or without --update to embed everything again");
                continue;
            }
            try
            {
                using var doc = JsonDocument.Parse(line);
                var r = doc.RootElement;
                stamps[r.GetProperty("label").GetString()!] = (r.GetProperty("file").GetString()!, r.GetProperty("length").GetInt64(),
                                                               r.GetProperty("mtime").GetInt64(), r.GetProperty("row").GetString()!);
            }
            catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
            {
                throw new InvalidDataException($"{stampsFile}: not a stamps file dino wrote ({e.Message}); delete it to embed everything again");
            }
        }
        using var old = DinoEmbeddingIndex.Load(index, format);
        if (old.Dimensions != dimensions)
            throw new UsageException($"{index} holds vectors of {old.Dimensions} values, the model's have {dimensions}");
        int unmatched = 0;
        for (int row = 0; row < old.Count; row++)
        {
            string label = old.GetLabel(row);
            float[] v = old.GetVector(row).ToArray();
            if (!stamps.TryGetValue(label, out var s) || s.hash != RowHash(v)) { unmatched++; continue; }
            if (!byFile.TryGetValue(s.file, out var rows)) byFile[s.file] = rows = new FileRows(s.length, s.mtime, new());
            rows.Rows.Add((label, v));
        }
        if (unmatched > 0) Note($"{unmatched} row(s) of {index} do not match their stamps (the index changed since): their images are embedded again");
        return byFile;
    }

    // The journal of an interrupted run with this recipe: the files it finished. A line cut short by a kill is skipped.
    private Dictionary<string, FileRows> ReadJournal(int dimensions)
    {
        var done = new Dictionary<string, FileRows>(StringComparer.Ordinal);
        string path = JournalFile(_index);
        if (!File.Exists(path)) return done;
        using (var lines = File.ReadLines(path).GetEnumerator())
        {
            if (!lines.MoveNext() || lines.Current != _recipe)
            {
                Note($"{path}: from a run with another recipe or unreadable: not resumed");
                lines.Dispose();
                File.Delete(path);
                return done;
            }
            while (lines.MoveNext())
            {
                try
                {
                    using var doc = JsonDocument.Parse(lines.Current);
                    var r = doc.RootElement;
                    var rows = r.GetProperty("rows").EnumerateArray()
                        .Select(x => (x.GetProperty("label").GetString()!, x.GetProperty("vector").EnumerateArray().Select(f => f.GetSingle()).ToArray())).ToList();
                    if (rows.Count > 0 && rows.All(x => x.Item2.Length == dimensions))
                        done[r.GetProperty("file").GetString()!] = new FileRows(r.GetProperty("length").GetInt64(), r.GetProperty("mtime").GetInt64(), rows);
                }
                catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException) { }
            }
        }
        return done;
    }

    /// <summary>Records a file's new rows, in the journal first (on the disk before the next batch starts).</summary>
    public void Embedded(string file, List<(string label, float[] vector)> rows)
    {
        var (length, mtime) = _stat[file];
        _embedded[file] = new FileRows(length, mtime, rows);
        if (_journal == null)
        {
            bool resume = File.Exists(JournalFile(_index));
            _journal = new FileStream(JournalFile(_index), FileMode.Append, FileAccess.Write, FileShare.Read);
            // A resumed journal may end in a line cut short: a line break keeps the next one whole.
            _journal.Write(Encoding.UTF8.GetBytes(resume ? "\n" : _recipe + "\n"));
        }
        var sb = new StringBuilder();
        sb.Append("{\"file\": ").Append(JsonSerializer.Serialize(file)).Append(", \"length\": ").Append(length)
          .Append(", \"mtime\": ").Append(mtime).Append(", \"rows\": [");
        for (int i = 0; i < rows.Count; i++)
        {
            if (i > 0) sb.Append(", ");
            sb.Append("{\"label\": ").Append(JsonSerializer.Serialize(rows[i].label)).Append(", \"vector\": [")
              .AppendJoin(", ", rows[i].vector.Select(x => x.ToString("R", CultureInfo.InvariantCulture))).Append("]}");
        }
        _journal.Write(Encoding.UTF8.GetBytes(sb.Append("]}\n").ToString()));
    }

    /// <summary>Puts what was journalled on the disk: called after each batch.</summary>
    public void Sync() => _journal?.Flush(flushToDisk: true);

    /// <summary>
    /// Writes the updated index, in input order (kept rows as they were, bit for bit), and its stamps; the journal
    /// goes once both are in place. Files that failed have no rows (and are tried again next time).
    /// </summary>
    public int Write(List<string> files, DinoIndexWriter index, Stream stamps)
    {
        using var w = new StreamWriter(stamps, new UTF8Encoding(false), 1 << 16, leaveOpen: true) { NewLine = "\n" };
        w.WriteLine(_recipe);
        int rows = 0;
        foreach (string f in files)
        {
            if (!_kept.TryGetValue(f, out var entry) && !_embedded.TryGetValue(f, out entry)) continue;
            foreach (var (label, v) in entry.Rows)
            {
                index.Write(label, v);
                w.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
                {
                    ["label"] = label, ["file"] = f, ["length"] = entry.Length, ["mtime"] = entry.Mtime, ["row"] = RowHash(v),
                }));
                rows++;
            }
        }
        w.Flush();
        return rows;
    }

    /// <summary>The run is complete and committed: the journal is no longer needed.</summary>
    public void Finish()
    {
        _journal?.Dispose();
        _journal = null;
        File.Delete(JournalFile(_index));
    }

    // What differs between two recipes, e.g. "preprocess PreprocessOptions { Resize = 32, ... } (this run: ...)".
    private static string Differences(string was, string now)
    {
        try
        {
            using var a = JsonDocument.Parse(was);
            using var b = JsonDocument.Parse(now);
            var diff = b.RootElement.EnumerateObject()
                .Where(p => !a.RootElement.TryGetProperty(p.Name, out var old) || old.GetRawText() != p.Value.GetRawText())
                .Select(p => $"{(p.Name == "model_sha256" ? "another model file" : p.Name)} " +
                             $"{(a.RootElement.TryGetProperty(p.Name, out var old) ? Text(old) : "(none)")} (this run: {Text(p.Value)})")
                .ToList();
            return diff.Count > 0 ? string.Join("; ", diff) : "another recipe";
        }
        catch (JsonException) { return $"a recipe this version does not read ({was})"; }
    }

    private static string Text(JsonElement e) => e.ValueKind == JsonValueKind.String ? e.GetString()! : e.GetRawText();

    // What identifies a row's values: the start of the SHA-256 of its float32 bytes.
    private static string RowHash(float[] v) =>
        Convert.ToHexString(SHA256.HashData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(v.AsSpan())), 0, 8).ToLowerInvariant();

    private static void Note(string message) => Console.Error.WriteLine($"dino: note: {message}");
}
