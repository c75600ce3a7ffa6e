using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Dino.IO;

namespace Dino;

/// <summary>
/// Writes labelled embeddings to streams as they come, in the formats of <see cref="DinoIndexFormat"/>, for indexes too
/// large to hold or for output that should appear row by row (<c>dino embed</c> writes through it). Every value is
/// written so that it reads back bit for bit. The caller owns the streams; call <see cref="Finish"/> once at the end.
/// To write a file in one go, <see cref="DinoEmbeddingIndex.Save"/> is simpler.
/// </summary>
public sealed class DinoIndexWriter
{
    private const int NpyHeaderBytes = 128;  // fixed, so that the real shape can be written over it at the end
    private readonly Stream _data;
    private readonly TextWriter? _text;    // JSON lines or CSV
    private readonly TextWriter? _labels;  // npy's paths file
    private readonly DinoIndexFormat _format;
    private readonly bool _tokens;
    private long _rows;
    private int _tokenCount = -1;
    private bool _finished;

    /// <summary>Starts an index on <paramref name="data"/>.</summary>
    /// <param name="data">Where the rows go: for npy a seekable stream (its header, written last, holds the row count).</param>
    /// <param name="format">The format.</param>
    /// <param name="dimensions">The width of an embedding (384 for ViT-S).</param>
    /// <param name="labels">For npy, where the labels go (the paths file, <see cref="DinoEmbeddingIndex.PathsFile"/>); else null.</param>
    /// <param name="tokens">Each row is all the tokens of an image [T, D], CLS first (npy [N, T, D], one T for all rows;
    /// JSON lines "tokens"); not in CSV.</param>
    /// <exception cref="ArgumentException">A stream that cannot be written (or, for npy, sought), a missing or surplus
    /// labels stream, tokens in CSV.</exception>
    public DinoIndexWriter(Stream data, DinoIndexFormat format, int dimensions, Stream? labels = null, bool tokens = false)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentOutOfRangeException.ThrowIfLessThan(dimensions, 1);
        if (!data.CanWrite) throw new ArgumentException("the stream cannot be written", nameof(data));
        if (format == DinoIndexFormat.Npy)
        {
            if (!data.CanSeek) throw new ArgumentException("npy needs a seekable stream: the row count is written last, into the header", nameof(data));
            if (labels is null || !labels.CanWrite) throw new ArgumentException("npy needs a writable stream for the labels (the paths file)", nameof(labels));
            _labels = new StreamWriter(labels, new UTF8Encoding(false), 1 << 16, leaveOpen: true) { NewLine = "\n" };
            data.Write(new byte[NpyHeaderBytes]);
        }
        else
        {
            if (labels is not null) throw new ArgumentException("only npy writes its labels apart", nameof(labels));
            if (format == DinoIndexFormat.Csv && tokens) throw new ArgumentException("all tokens need npy or JSON lines, not CSV", nameof(tokens));
            if (!Enum.IsDefined(format)) throw new ArgumentOutOfRangeException(nameof(format));
            _text = new StreamWriter(data, new UTF8Encoding(false), 1 << 16, leaveOpen: true) { NewLine = "\n" };
        }
        (_data, _format, Dimensions, _tokens) = (data, format, dimensions, tokens);
    }

    /// <summary>The width of an embedding.</summary>
    public int Dimensions { get; }

    /// <summary>The rows written so far.</summary>
    public long Count => _rows;

    /// <summary>Writes one row: an embedding of <see cref="Dimensions"/> values, or with tokens all T of them.</summary>
    /// <exception cref="ArgumentException">A row of the wrong length (or, for npy, another token count than the first row's).</exception>
    public void Write(string label, ReadOnlySpan<float> row)
    {
        ArgumentNullException.ThrowIfNull(label);
        if (_finished) throw new InvalidOperationException("the index is finished");
        int tokenCount = row.Length / Dimensions;
        if (row.Length == 0 || row.Length % Dimensions != 0 || (!_tokens && tokenCount != 1))
            throw new ArgumentException($"{label}: {row.Length} values, expected {(_tokens ? "a multiple of " : "")}{Dimensions}", nameof(row));
        if (_format == DinoIndexFormat.Npy)
        {
            if (_tokens && _tokenCount >= 0 && tokenCount != _tokenCount)
                throw new ArgumentException($"{label} has {tokenCount} tokens where earlier rows had {_tokenCount}: an npy of all tokens needs one image size", nameof(row));
            _tokenCount = tokenCount;
            _data.Write(MemoryMarshal.AsBytes(row));
            _labels!.WriteLine(IndexFile.JsonString(label, readable: true));
        }
        else _text!.WriteLine(TextLine(label, row));
        _rows++;
    }

    private string TextLine(string label, ReadOnlySpan<float> row)
    {
        var sb = new StringBuilder();
        if (_format == DinoIndexFormat.Csv)
        {
            sb.Append('"').Append(label.Replace("\"", "\"\"")).Append('"');
            foreach (float v in row) sb.Append(',').Append(v.ToString("R", CultureInfo.InvariantCulture));
            return sb.ToString();
        }
        sb.Append("{\"path\": ").Append(IndexFile.JsonString(label, readable: false)).Append(", \"embedding\": ");
        AppendArray(sb, row[..Dimensions]);
        if (_tokens)
        {
            sb.Append(", \"tokens\": [");
            for (int t = 0; t < row.Length / Dimensions; t++)
            {
                if (t > 0) sb.Append(", ");
                AppendArray(sb, row.Slice(t * Dimensions, Dimensions));
            }
            sb.Append(']');
        }
        return sb.Append('}').ToString();
    }

    private static void AppendArray(StringBuilder sb, ReadOnlySpan<float> v)
    {
        sb.Append('[');
        for (int i = 0; i < v.Length; i++)
        {
            if (i > 0) sb.Append(", ");
            sb.Append(v[i].ToString("R", CultureInfo.InvariantCulture));
        }
        sb.Append(']');
    }

    /// <summary>Pushes the rows written so far to the streams (for output read as it comes; an npy is whole only after <see cref="Finish"/>).</summary>
    public void Flush()
    {
        _text?.Flush();
        _labels?.Flush();
        _data.Flush();
    }

    /// <summary>Completes the index: for npy writes the header with the row count; flushes what is buffered.</summary>
    public void Finish()
    {
        if (_finished) return;
        _finished = true;
        if (_format != DinoIndexFormat.Npy)
        {
            _text!.Flush();
            return;
        }
        long[] shape = _tokens ? new[] { _rows, Math.Max(_tokenCount, 0), Dimensions } : new[] { _rows, (long)Dimensions };
        byte[] header = Npy.Header(shape);
        if (header.Length != NpyHeaderBytes) throw new InvalidOperationException("npy header size");
        long end = _data.Position;
        _data.Position = 0;
        _data.Write(header);
        _data.Position = end;
        _data.Flush();
        _labels!.Flush();
    }
}
