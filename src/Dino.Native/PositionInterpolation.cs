namespace Dino;

/// <summary>How position embeddings are resampled for sizes other than the native one.</summary>
public enum PositionInterpolation
{
    /// <summary>As DINO's interpolate_pos_encoding (bicubic with scale factors (n + 0.1) / grid); the original DINOv2
    /// backbones without registers do the same.</summary>
    Dino = 0,
    /// <summary>A plain size-based bicubic resize (recent transformers: ViTModel, Dinov2Model).</summary>
    Size = 1,
    /// <summary>The same, antialiased (DINOv2 with registers, original and transformers).</summary>
    SizeAntialias = 2,
    /// <summary>What the model file says its reference does (<see cref="DinoModelInfo.PositionInterpolation"/>): the default.</summary>
    Model = 3,
}
