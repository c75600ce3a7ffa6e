namespace Dino;

/// <summary>One op's share of a <see cref="DinoProfile"/>.</summary>
/// <param name="Name">"blk.3.attn_qkv", "blk.3.attention".</param>
/// <param name="Kind">What the op is.</param>
/// <param name="Block">Its block.</param>
/// <param name="Seconds">Wall time over the profiled runs, from its first thread's start to its last one's end.</param>
/// <param name="Operations">Multiply-adds x 2 done in that time.</param>
/// <param name="Peak">What those operations ran on: the peak to compare them with.</param>
public sealed record DinoProfileEntry(string Name, DinoProfileKind Kind, int Block, double Seconds, double Operations, DinoPeakKind Peak)
{
    /// <summary>Achieved operations per second.</summary>
    public double OperationsPerSecond => Seconds > 0 ? Operations / Seconds : 0;
}
