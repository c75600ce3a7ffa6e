namespace Dino;

/// <summary>Options of <see cref="DinoModel.Load"/>.</summary>
public sealed record DinoModelOptions
{
    /// <summary>Native threads per embedding call; 0 = the cores this process may use (its CPU affinity and container quota; <see cref="DinoModel.Threads"/> says how many).</summary>
    public int ThreadsPerCall { get; init; }

    /// <summary>Images computed together by <see cref="DinoModel.EmbedBatch(IReadOnlyList{ImageTensor}, EmbedOptions?, CancellationToken)"/> (default 8).</summary>
    public int MaxBatchSize { get; init; } = 8;

    /// <summary>The attention kernel (default: the library's choice for the model).</summary>
    public AttentionKernel Attention { get; init; } = AttentionKernel.Auto;

    /// <summary>Position-embedding resampling for non-native sizes (default: what the model file says its reference does).</summary>
    public PositionInterpolation PositionInterpolation { get; init; } = PositionInterpolation.Model;

    /// <summary>
    /// Compute contexts kept for reuse between calls (default: the core count). Each concurrent call
    /// needs one (tens of MB at 224 px, more for larger images and batches); contexts returned past
    /// this number are freed, so a burst of callers does not hold its memory until Dispose. 0 keeps
    /// none: every call makes its own.
    /// </summary>
    public int MaxIdleContexts { get; init; } = Environment.ProcessorCount;

    /// <summary>Refuse a call whose compute buffers would pass this many MiB (an estimate; 0 = no limit).</summary>
    public long MaxComputeMemoryMB { get; init; } = 8192;

    /// <summary>Limits on decoded images.</summary>
    public ImageLimits ImageLimits { get; init; } = new();

    /// <summary>Scan the weights for NaN/Inf when loading (default true).</summary>
    public bool CheckWeights { get; init; } = true;

    /// <summary>What loading does to int8 weights (default: as stored); <see cref="Dino.Int8Weights.SevenBit"/> trades a little accuracy for speed on x86 CPUs without VNNI.</summary>
    public Int8Weights Int8Weights { get; init; } = Int8Weights.AsStored;

    /// <summary>The most images one native call computes (dino_compute's n_images).</summary>
    internal const int MaxNativeBatch = 4096;

    internal void Validate()
    {
        if (MaxBatchSize is < 1 or > MaxNativeBatch)
            throw new ArgumentOutOfRangeException(nameof(MaxBatchSize), MaxBatchSize, $"MaxBatchSize must be 1 to {MaxNativeBatch} (the most images one native call computes)");
        if (MaxIdleContexts < 0) throw new ArgumentOutOfRangeException(nameof(MaxIdleContexts), MaxIdleContexts, "MaxIdleContexts must be >= 0");
        if (!Enum.IsDefined(Attention)) throw new ArgumentOutOfRangeException(nameof(Attention), Attention, "not an AttentionKernel value");
        if (!Enum.IsDefined(Int8Weights)) throw new ArgumentOutOfRangeException(nameof(Int8Weights), Int8Weights, "not an Int8Weights value");
        if (!Enum.IsDefined(PositionInterpolation))
            throw new ArgumentOutOfRangeException(nameof(PositionInterpolation), PositionInterpolation, "not a PositionInterpolation value");
        if (ImageLimits is null) throw new ArgumentNullException(nameof(ImageLimits), "ImageLimits must be set (new ImageLimits() for the defaults)");
        if (ImageLimits.MaxPixels < 1 || ImageLimits.MaxDecodeBytes < 1 || ImageLimits.MaxEncodedBytes < 1)
            throw new ArgumentOutOfRangeException(nameof(ImageLimits), ImageLimits, "every ImageLimits value must be positive");
    }
}
