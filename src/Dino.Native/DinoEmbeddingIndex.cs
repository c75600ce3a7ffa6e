using System.IO.MemoryMappedFiles;
using Dino.IO;

namespace Dino;

/// <summary>
/// Labelled embeddings to keep and search: rows of <see cref="Dimensions"/> values, each with a label (a path, an id),
/// searched by cosine similarity. Saved and loaded in the formats <c>dino embed</c> writes and <c>dino similar</c> reads
/// (<see cref="DinoIndexFormat"/>), bit for bit. <see cref="Load"/> holds an index in memory, where rows can be added;
/// <see cref="OpenMapped"/> maps a large .npy instead, read-only, so that only the pages a search touches are read.
/// </summary>
/// <remarks>
/// Searching is thread-safe; adding is not (nor searching while adding). A mapped index must be disposed to release the
/// file; for an index in memory, Dispose does nothing.
/// </remarks>
/// <example>
/// <code>
/// var index = new DinoEmbeddingIndex(model.Info.EmbeddingLength);
/// foreach (var r in model.EmbedEach(paths)) if (r.Embedding is { } e) index.Add(r.Source, e.Embedding);
/// index.Save("photos.npy");                       // + photos.paths.txt
/// foreach (var hit in index.Search(query, k: 5)) Console.WriteLine($"{hit.Cosine:F3} {hit.Label}");
/// </code>
/// </example>
public sealed unsafe class DinoEmbeddingIndex : IDisposable
{
    private readonly List<string> _labels;
    private float[] _rows;  // in memory: Count x Dimensions, grown by doubling
    private readonly MemoryMappedFile? _map;
    private readonly MemoryMappedViewAccessor? _view;
    private readonly byte* _mapped;  // the first value of a mapped npy
    private bool _disposed;

    /// <summary>An empty index of embeddings <paramref name="dimensions"/> wide (384 for ViT-S), in memory.</summary>
    public DinoEmbeddingIndex(int dimensions)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(dimensions, 1);
        Dimensions = dimensions;
        _labels = new List<string>();
        _rows = Array.Empty<float>();
    }

    private DinoEmbeddingIndex(int dimensions, List<string> labels, MemoryMappedFile map, MemoryMappedViewAccessor view, long offset)
    {
        (Dimensions, _labels, _rows, _map, _view) = (dimensions, labels, Array.Empty<float>(), map, view);
        byte* p = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
        _mapped = p + view.PointerOffset + offset;
    }

    /// <summary>The width of every embedding.</summary>
    public int Dimensions { get; }

    /// <summary>How many rows the index holds.</summary>
    public int Count => _labels.Count;

    /// <summary>Whether rows cannot be added: a mapped index.</summary>
    public bool IsReadOnly => _map is not null;

    /// <summary>The label of every row, in order.</summary>
    public IReadOnlyList<string> Labels => _labels;

    /// <summary>The label of one row.</summary>
    public string GetLabel(int row) => _labels[row];

    /// <summary>The embedding of one row (valid until the index is disposed or, in memory, a row is added).</summary>
    public ReadOnlySpan<float> GetVector(int row)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if ((uint)row >= (uint)Count) throw new ArgumentOutOfRangeException(nameof(row), row, $"the index has {Count} rows");
        return VectorAt(row);
    }

    private ReadOnlySpan<float> VectorAt(int row) =>
        _map is null ? _rows.AsSpan(row * Dimensions, Dimensions) : new ReadOnlySpan<float>(_mapped + (long)row * Dimensions * sizeof(float), Dimensions);

    /// <summary>Adds a row at the end.</summary>
    /// <exception cref="ArgumentException">An embedding of another width, or holding a value that is not a finite number.</exception>
    /// <exception cref="InvalidOperationException">The index is mapped (read-only).</exception>
    public void Add(string label, ReadOnlySpan<float> embedding)
    {
        ArgumentNullException.ThrowIfNull(label);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (IsReadOnly) throw new InvalidOperationException("a mapped index is read-only: Load it to add rows");
        if (embedding.Length != Dimensions)
            throw new ArgumentException($"{label}: an embedding of {embedding.Length} values, the index's have {Dimensions}", nameof(embedding));
        foreach (float x in embedding)
            if (!float.IsFinite(x)) throw new ArgumentException($"{label}: the embedding holds a value that is not a finite number", nameof(embedding));
        Append(label, embedding);
    }

    // A row already checked (by Add, or as read from a file by Load).
    private void Append(string label, ReadOnlySpan<float> embedding)
    {
        long need = (long)(Count + 1) * Dimensions;
        if (need > Array.MaxLength) throw new InvalidOperationException($"an index in memory holds at most {Array.MaxLength / Dimensions} rows of {Dimensions}");
        if (need > _rows.Length) Array.Resize(ref _rows, (int)Math.Min(Math.Max(need, 2L * _rows.Length), Array.MaxLength / Dimensions * Dimensions));
        embedding.CopyTo(_rows.AsSpan(Count * Dimensions));
        _labels.Add(label);
    }

    /// <summary>
    /// Removes every row whose label <paramref name="match"/> accepts (the rows of files that are gone, say); the
    /// others keep their order. Returns how many went.
    /// </summary>
    /// <exception cref="InvalidOperationException">The index is mapped (read-only).</exception>
    public int RemoveWhere(Func<string, bool> match)
    {
        ArgumentNullException.ThrowIfNull(match);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (IsReadOnly) throw new InvalidOperationException("a mapped index is read-only: Load it to remove rows");
        int kept = 0;
        for (int row = 0; row < _labels.Count; row++)
        {
            if (match(_labels[row])) continue;
            if (kept != row)
            {
                _rows.AsSpan(row * Dimensions, Dimensions).CopyTo(_rows.AsSpan(kept * Dimensions));
                _labels[kept] = _labels[row];
            }
            kept++;
        }
        int removed = _labels.Count - kept;
        _labels.RemoveRange(kept, removed);
        return removed;
    }

    /// <summary>
    /// The <paramref name="k"/> rows most similar to <paramref name="query"/> by cosine similarity, best first; of
    /// equal similarity the earlier row first (as <c>dino similar</c> ranks).
    /// </summary>
    /// <exception cref="ArgumentException">A query of another width, or holding a value that is not a finite number.</exception>
    public IReadOnlyList<DinoSearchResult> Search(ReadOnlySpan<float> query, int k = 10)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (query.Length != Dimensions)
            throw new ArgumentException($"a query of {query.Length} values, the index's embeddings have {Dimensions} (made with another model?)", nameof(query));
        foreach (float x in query)
            if (!float.IsFinite(x)) throw new ArgumentException("the query holds a value that is not a finite number", nameof(query));
        float[] q = query.ToArray();
        // A mapped file stays mapped until the search ends, even if another thread disposes the index meanwhile.
        bool held = false;
        try
        {
            _view?.SafeMemoryMappedViewHandle.DangerousAddRef(ref held);
            return TopK.Best(Count, k, row => DinoEmbedding.CosineSimilarity(q, VectorAt(row)))
                .Select(b => new DinoSearchResult(b.Item, _labels[b.Item], b.Score)).ToArray();
        }
        finally
        {
            if (held) _view!.SafeMemoryMappedViewHandle.DangerousRelease();
        }
    }

    /// <summary>The labels file beside an npy index: NAME.paths.txt for NAME.npy.</summary>
    public static string PathsFile(string npyPath) => IndexFile.PathsFile(npyPath);

    /// <summary>
    /// Writes the index to <paramref name="path"/> (and for npy its <see cref="PathsFile"/>), each file replaced only
    /// when complete. The format is <paramref name="format"/>, or the one the extension names (.npy, .jsonl, .csv).
    /// </summary>
    /// <exception cref="ArgumentException">No format given and the extension names none.</exception>
    /// <exception cref="IOException">The file cannot be written (its folder missing, the disk full, ...).</exception>
    public void Save(string path, DinoIndexFormat? format = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        string full = Path.GetFullPath(path);
        var f = FormatFrom(path, format);
        using var data = new ReplacingFile(full);
        using var labels = f == DinoIndexFormat.Npy ? new ReplacingFile(IndexFile.PathsFile(full)) : null;
        var writer = new DinoIndexWriter(data.Stream, f, Dimensions, labels?.Stream);
        for (int row = 0; row < Count; row++) writer.Write(_labels[row], GetVector(row));
        writer.Finish();
        data.Commit();
        labels?.Commit();
    }

    /// <summary>
    /// Reads a whole index file into memory: an npy [N, D] with its paths file (rows labelled "#i" without one), JSON
    /// lines or CSV, by <paramref name="format"/> or the extension.
    /// </summary>
    /// <exception cref="InvalidDataException">Not an index file of that format; rows of different widths; a value that
    /// is not a finite number; a JSON lines or CSV file without rows (its width unknown).</exception>
    /// <exception cref="IOException">The file cannot be read (FileNotFoundException, ...).</exception>
    public static DinoEmbeddingIndex Load(string path, DinoIndexFormat? format = null)
    {
        var f = FormatFrom(path, format);
        DinoEmbeddingIndex? index = null;
        if (f == DinoIndexFormat.Npy)
        {
            using var mapped = OpenMapped(path);
            index = new DinoEmbeddingIndex(mapped.Dimensions);
            for (int row = 0; row < mapped.Count; row++) AddRead(index, path, row, mapped.GetLabel(row), mapped.GetVector(row));
            return index;
        }
        int n = 0;
        foreach (var (label, v) in IndexFile.ReadText(path, f))
        {
            index ??= new DinoEmbeddingIndex(v.Length);
            AddRead(index, path, n++, label, v);
        }
        return index ?? throw new InvalidDataException($"{path}: the index holds no embeddings");
    }

    // A row read from a file: its faults are the file's (InvalidDataException), not the caller's.
    private static void AddRead(DinoEmbeddingIndex index, string path, int row, string label, ReadOnlySpan<float> v)
    {
        if (v.Length != index.Dimensions)
            throw new InvalidDataException($"{path}: row {row + 1} ({label}) has {v.Length} values, the first has {index.Dimensions}");
        foreach (float x in v)
            if (!float.IsFinite(x)) throw new InvalidDataException($"{path}: row {row + 1} ({label}) holds a value that is not a finite number");
        index.Append(label, v);
    }

    /// <summary>
    /// Maps an npy index [N, D] read-only instead of reading it: memory stays at the pages searches touch, for an index
    /// larger than you want to hold. Labels (from the paths file) are read. Dispose the index to release the file.
    /// </summary>
    /// <exception cref="InvalidDataException">Not an npy [N, D] float32 file, or its paths file does not match it.</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static DinoEmbeddingIndex OpenMapped(string path)
    {
        FileStream f = RegularFile.OpenRead(path);
        try
        {
            var (rows, dim) = IndexFile.NpyShape(f, path);
            if (rows > int.MaxValue) throw new InvalidDataException($"{path}: {rows} rows; an index holds at most {int.MaxValue}");
            long offset = f.Position;
            var labels = IndexFile.NpyLabels(path, rows).ToList();
            var map = MemoryMappedFile.CreateFromFile(f, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
            try
            {
                return new DinoEmbeddingIndex(dim, labels, map, map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read), offset);
            }
            catch
            {
                map.Dispose();
                throw;
            }
        }
        catch
        {
            f.Dispose();
            throw;
        }
    }

    /// <summary>The format a file's extension names: .npy, .jsonl (.json, .ndjson) or .csv; null for any other.</summary>
    public static DinoIndexFormat? FormatOf(string path) => IndexFile.FormatOf(path);

    private static DinoIndexFormat FormatFrom(string path, DinoIndexFormat? format)
    {
        ArgumentNullException.ThrowIfNull(path);
        return format ?? IndexFile.FormatOf(path)
            ?? throw new ArgumentException($"{path}: the extension names no index format (.npy, .jsonl, .csv); give the format", nameof(format));
    }

    /// <summary>Releases a mapped file; the index cannot be used after.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (_view is not null)
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _view.Dispose();
        }
        _map?.Dispose();
    }

    /// <summary>E.g. "DinoEmbeddingIndex: 1200 rows of 384 (mapped)".</summary>
    public override string ToString() => $"DinoEmbeddingIndex: {Count} rows of {Dimensions}{(IsReadOnly ? " (mapped)" : "")}";
}
