namespace Dino.Interop;

/// <summary>The caller-owned output arrays of one dino_compute call (null: not wanted).</summary>
internal sealed class ComputeBuffers
{
    public required float[] Cls { get; init; }
    public float[]? Tokens { get; init; }
    public float[]? Attention { get; init; }
    public bool AttentionFull { get; init; }
    public float[]? Intermediate { get; init; }
    public int IntermediateLayers { get; init; }
    public float[]? Registers { get; init; }
}
