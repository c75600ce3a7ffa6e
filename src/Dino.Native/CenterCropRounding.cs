namespace Dino;

/// <summary>Where a center crop starts when the margin it leaves is odd.</summary>
public enum CenterCropRounding
{
    /// <summary>torchvision's CenterCrop: round((size - crop) / 2), half to even (DINO and DINOv2's own transforms).</summary>
    HalfToEven = 0,
    /// <summary>transformers' center_crop: (size - crop) / 2 rounded down (the Hugging Face image processors).</summary>
    Down = 1,
}
