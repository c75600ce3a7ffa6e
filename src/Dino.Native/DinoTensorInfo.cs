namespace Dino;

/// <summary>One tensor of a model file (shape in ggml order: innermost first).</summary>
public sealed record DinoTensorInfo(string Name, string Type, IReadOnlyList<long> Shape, long Bytes);
