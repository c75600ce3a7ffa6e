namespace Dino;

/// <summary>How position embeddings are resampled for sizes other than the native one.</summary>
public enum PositionInterpolation
{
    /// <summary>As DINO's interpolate_pos_encoding (bicubic with scale factors (n + 0.1) / grid).</summary>
    Dino = 0,
    /// <summary>A plain size-based bicubic resize (recent transformers).</summary>
    Size = 1,
}
