namespace Dino;

/// <summary>
/// One input's outcome in <see cref="DinoModel.EmbedEach(IEnumerable{string}, EmbedOptions?, CancellationToken)"/> and its
/// relatives: its embedding, or the error that kept it from having one. A bad input fails alone; the others are computed.
/// </summary>
public sealed class DinoEmbeddingResult
{
    internal DinoEmbeddingResult(int index, string source, DinoEmbedding? embedding, DinoException? error)
    {
        Index = index;
        Source = source;
        Embedding = embedding;
        Error = error;
    }

    /// <summary>The input's position in the sequence given.</summary>
    public int Index { get; }

    /// <summary>The input: its path, or "tensor N" for a tensor.</summary>
    public string Source { get; }

    /// <summary>The embedding, or null when <see cref="Error"/> says why not.</summary>
    public DinoEmbedding? Embedding { get; }

    /// <summary>
    /// Null on success. Otherwise a <see cref="DinoImageException"/> (the image could not be read, or its size cannot
    /// be computed) or a <see cref="DinoNativeException"/> (out of memory, or a result that is not finite).
    /// </summary>
    public DinoException? Error { get; }

    /// <summary>True when <see cref="Embedding"/> is there.</summary>
    public bool Succeeded => Embedding != null;

    /// <summary>"photo.jpg: DinoEmbedding: 384 dims, ..." or "bad.png: failed: ...".</summary>
    public override string ToString() => Succeeded ? $"{Source}: {Embedding}" : $"{Source}: failed: {Error!.Message}";
}
