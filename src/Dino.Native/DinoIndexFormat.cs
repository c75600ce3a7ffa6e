namespace Dino;

/// <summary>The file formats of an embedding index (<see cref="DinoEmbeddingIndex"/>, <see cref="DinoIndexWriter"/>, <c>dino embed</c>).</summary>
public enum DinoIndexFormat
{
    /// <summary>
    /// numpy .npy, float32 [N, D] (or [N, T, D] with all tokens); the labels beside it in NAME.paths.txt, one JSON
    /// string per line (<c>np.load(f)</c>, <c>[json.loads(l) for l in open(p)]</c>).
    /// </summary>
    Npy,

    /// <summary>JSON lines: <c>{"path": LABEL, "embedding": [...]}</c> (and <c>"tokens": [[...], ...]</c>) per row.</summary>
    JsonLines,

    /// <summary>CSV: the label quoted, then the values, one row per line, no header.</summary>
    Csv,
}
