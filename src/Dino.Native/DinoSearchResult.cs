namespace Dino;

/// <summary>One answer of <see cref="DinoEmbeddingIndex.Search"/>: a row of the index and its cosine similarity to the query.</summary>
/// <param name="Row">The row's position in the index.</param>
/// <param name="Label">The row's label (a path, for indexes <c>dino embed</c> wrote).</param>
/// <param name="Cosine">Cosine similarity to the query, from -1 to 1 (0 for a zero vector).</param>
public readonly record struct DinoSearchResult(int Row, string Label, double Cosine);
