namespace Dino;

/// <summary>
/// Options of <see cref="DinoModel.Quantize(string, string, QuantizeOptions, CancellationToken)"/>: a type
/// for every linear weight, or calibration images and a target from which each layer's type is chosen.
/// </summary>
public sealed record QuantizeOptions
{
    /// <summary>
    /// The linear weights' type, one of <see cref="DinoModel.QuantizationTypes"/>. With a target, the lowest type a
    /// layer may take: "q4_0" (the default then), "q5_0" or "q8_0".
    /// </summary>
    public string? Type { get; init; }

    /// <summary>
    /// Calibration images, preprocessed with the model's defaults (so square, at <see cref="DinoModelInfo.InputSize"/>). With them the quantizers
    /// that take an importance matrix (q4_0, q4_1, q5_*, the K-quants) choose their scales by the layers' measured
    /// inputs. A few dozen photos like the ones the model will see are enough.
    /// </summary>
    public IReadOnlyList<ImageTensor> Calibration { get; init; } = Array.Empty<ImageTensor>();

    /// <summary>The most calibration images a call takes (<see cref="DinoModel.Quantize(string, string, QuantizeOptions, CancellationToken)"/>
    /// copies them into one native buffer, 0.6 MB each at 224 x 224; a few dozen are enough).</summary>
    public const int MaxCalibrationImages = 256;

    /// <summary>
    /// The lowest CLS cosine to the f32 model wanted, in (0, 1); 0 = none. Needs <see cref="Calibration"/>:
    /// each layer's sensitivity is measured on the images and the smallest mix of q4_0, q5_0, q8_0 and f16 that meets
    /// the target with a margin (half the drift allowed, kept for images it did not see) is written.
    /// </summary>
    public double TargetCosine { get; init; }

    /// <summary>The largest file, in MB of 10^6 bytes; 0 = none. Alone, the closest mix that fits. Needs <see cref="Calibration"/>.</summary>
    public double MaxMegabytes { get; init; }

    /// <summary>Compute threads for calibration and measurement; 0 = all cores.</summary>
    public int Threads { get; init; }

    /// <summary>
    /// The calibration and measuring computes refuse a step whose buffers would pass this many MiB (an estimate, as
    /// <see cref="DinoModelOptions.MaxComputeMemoryMB"/>; 0 = no limit).
    /// </summary>
    public long MaxComputeMemoryMB { get; init; } = 8192;

    /// <summary>Told what the work is doing as it goes (calibration and measurement take minutes on a full-size model).</summary>
    public IProgress<QuantizeProgress>? Progress { get; init; }
}
