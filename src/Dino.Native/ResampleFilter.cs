namespace Dino;

/// <summary>Resampling filters, as PIL's (antialiased when shrinking).</summary>
public enum ResampleFilter
{
    /// <summary>Triangle filter (PIL BILINEAR); the Hugging Face dino-vits8 default.</summary>
    Bilinear = 0,
    /// <summary>Cubic convolution, a = -0.5 (PIL BICUBIC); DINO's evaluation transform.</summary>
    Bicubic = 1,
}
