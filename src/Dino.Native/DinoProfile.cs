namespace Dino;

/// <summary>Where a model's time goes (<see cref="DinoModel.Profile"/>).</summary>
/// <param name="Entries">The library's own ops, in graph order.</param>
/// <param name="TotalSeconds">Wall time of the profiled runs: the ops above, ggml's ops (patch embedding, final
/// LayerNorm, any layer without a kernel here) and the threads' synchronisation.</param>
/// <param name="Images">Images computed in that time.</param>
public sealed record DinoProfile(IReadOnlyList<DinoProfileEntry> Entries, double TotalSeconds, int Images)
{
    /// <summary>
    /// This CPU's peak in operations per second (a multiply-add counts 2) on <paramref name="threads"/> threads,
    /// measured for about <paramref name="seconds"/> by a probe of the instructions the kernels use. 0 where there
    /// is no probe (no kernels here; int8 on arm64; bf16 without AVX512_BF16).
    /// </summary>
    public static double MeasurePeak(DinoPeakKind kind, int threads, double seconds = 0.5)
    {
        Interop.NativeLibraryLoader.EnsureLoaded();
        return Interop.NativeMethods.dino_peak_ops((int)kind, threads, seconds);
    }
}
