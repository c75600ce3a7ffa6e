namespace Dino;

/// <summary>A label's summed vote for one query (<see cref="DinoKnnClassifier.Classify(ReadOnlySpan{float})"/>).</summary>
/// <param name="Label">The label.</param>
/// <param name="Score">The sum of exp(similarity / T) over the query's nearest neighbours with this label; 0 without one.</param>
public sealed record DinoKnnScore(string Label, double Score);
