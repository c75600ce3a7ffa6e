namespace Dino;

/// <summary>How far <see cref="DinoModel.Quantize(string, string, QuantizeOptions, CancellationToken)"/> is.</summary>
/// <param name="Stage">"calibrating", "measuring each layer" or "measuring the mix".</param>
/// <param name="Done">Steps of the stage done.</param>
/// <param name="Total">Steps of the stage.</param>
public readonly record struct QuantizeProgress(string Stage, int Done, int Total);
