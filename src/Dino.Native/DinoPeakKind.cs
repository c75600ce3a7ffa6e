namespace Dino;

/// <summary>The instructions a kernel's products run on, each with its own peak (<see cref="DinoProfile.MeasurePeak"/>).</summary>
public enum DinoPeakKind
{
    /// <summary>f32 fused multiply-adds.</summary>
    F32Fma = 0,
    /// <summary>int8 dot products: VNNI, or maddubs before it.</summary>
    Int8Dot = 1,
    /// <summary>bf16 pair dot products into f32 (AVX512_BF16).</summary>
    Bf16Dot = 2,
}
