namespace Dino;

/// <summary>
/// How an image becomes the model's input: resize, optional center crop,
/// rescale, normalize. <see cref="DinoModel.DefaultPreprocessing"/> is the
/// model's own; <see cref="HuggingFace"/> and <see cref="DinoEvaluation"/> are
/// the two usual recipes.
/// </summary>
public sealed record PreprocessOptions
{
    /// <summary>Resize target in pixels (0 = keep the size).</summary>
    public int Resize { get; init; } = 224;

    /// <summary>True: resize the shorter side to <see cref="Resize"/> keeping the aspect ratio; false: to Resize x Resize.</summary>
    public bool ResizeShortestEdge { get; init; }

    /// <summary>Center crop size after the resize (0 = no crop).</summary>
    public int Crop { get; init; }

    /// <summary>Where the center crop starts when its margin is odd: torchvision's rounding, or transformers' (a pixel
    /// to the left or top of it, one image in four).</summary>
    public CenterCropRounding CropRounding { get; init; }

    /// <summary>The resampling filter.</summary>
    public ResampleFilter Resample { get; init; } = ResampleFilter.Bilinear;

    /// <summary>Factor from byte values to [0, 1] (1/255).</summary>
    public float RescaleFactor { get; init; } = 1f / 255f;

    /// <summary>Per-channel mean subtracted after rescaling (ImageNet's).</summary>
    public IReadOnlyList<float> Mean { get; init; } = new[] { 0.485f, 0.456f, 0.406f };

    /// <summary>Per-channel standard deviation divided by (ImageNet's).</summary>
    public IReadOnlyList<float> Std { get; init; } = new[] { 0.229f, 0.224f, 0.225f };

    /// <summary>The Hugging Face ViT processor for dino-vits8: size x size bilinear, no crop.</summary>
    public static PreprocessOptions HuggingFace(int size = 224) => new() { Resize = size };

    /// <summary>DINO's evaluation transform: shorter side to 256 bicubic, center crop 224.</summary>
    public static PreprocessOptions DinoEvaluation(int crop = 224) =>
        new() { Resize = crop * 256 / 224, ResizeShortestEdge = true, Crop = crop, Resample = ResampleFilter.Bicubic };

    /// <summary>Every setting, the mean and std values included (a record would print "System.Single[]"), e.g. for logs.</summary>
    public override string ToString()
    {
        static string List(IReadOnlyList<float>? v) => v is null ? "null" : "[" + string.Join(", ", v.Select(x => x.ToString("R", System.Globalization.CultureInfo.InvariantCulture))) + "]";
        return $"PreprocessOptions {{ Resize = {Resize}, ResizeShortestEdge = {ResizeShortestEdge}, Crop = {Crop}, {(CropRounding == CenterCropRounding.Down ? "CropRounding = Down, " : "")}Resample = {Resample}, " +
               $"RescaleFactor = {RescaleFactor.ToString("R", System.Globalization.CultureInfo.InvariantCulture)}, Mean = {List(Mean)}, Std = {List(Std)} }}";
    }

    /// <summary>The largest side, in pixels, of an image the engine computes (the native dino_compute's limit).</summary>
    internal const int MaxSide = 8192;

    internal void Validate()
    {
        if (Resize < 0 || Crop < 0) throw new ArgumentException("Resize and Crop must not be negative");
        // Checked here, before a resize allocates: the native side would refuse the result only after.
        if (Resize > MaxSide) throw new ArgumentOutOfRangeException(nameof(Resize), Resize, $"Resize is at most {MaxSide} pixels (the largest side the engine computes)");
        if (Crop > MaxSide) throw new ArgumentOutOfRangeException(nameof(Crop), Crop, $"Crop is at most {MaxSide} pixels (the largest side the engine computes)");
        if (Mean is null || Std is null) throw new ArgumentNullException(Mean is null ? nameof(Mean) : nameof(Std), "Mean and Std need 3 values (R, G, B)");
        if (Mean.Count != 3 || Std.Count != 3) throw new ArgumentException("Mean and Std need 3 values (R, G, B)");
        if (Std.Any(s => !(s > 0))) throw new ArgumentException("Std values must be positive");
        if (!(RescaleFactor > 0)) throw new ArgumentException("RescaleFactor must be positive");
        if (!Enum.IsDefined(Resample)) throw new ArgumentOutOfRangeException(nameof(Resample), Resample, "not a ResampleFilter value");
    }

    /// <summary>The resized size for an input of w x h (before any crop); sides above <see cref="MaxSide"/> are
    /// refused for this image before anything is allocated.</summary>
    internal (int width, int height) ResizedSize(int w, int h)
    {
        if (Resize == 0 || !ResizeShortestEdge) return Resize == 0 ? (w, h) : (Resize, Resize);
        // torchvision's Resize(int): the shorter side to Resize, the longer scaled and truncated
        long longer = w <= h ? (long)Resize * h / w : (long)Resize * w / h;
        if (longer > MaxSide)
            throw new DinoImageException($"the image ({w}x{h}) resized to {Resize} on its shorter side would be {longer} pixels long: " +
                                         $"more than {MaxSide}, the largest side the engine computes");
        return w <= h ? (Resize, (int)longer) : ((int)longer, Resize);
    }
}
