namespace Dino;

/// <summary>One op's share of a <see cref="DinoProfile"/>.</summary>
/// <param name="Name">"blk.3.attn_qkv", "blk.3.attention".</param>
/// <param name="Kind">What the op is.</param>
/// <param name="Block">Its block.</param>
/// <param name="Seconds">Wall time over the profiled runs, from its first thread's start to its last one's end.</param>
/// <param name="Operations">Multiply-adds x 2 done in that time (f32, or int8 where the weights are).</param>
public sealed record DinoProfileEntry(string Name, DinoProfileKind Kind, int Block, double Seconds, double Operations)
{
    /// <summary>Achieved operations per second.</summary>
    public double OperationsPerSecond => Seconds > 0 ? Operations / Seconds : 0;
}
