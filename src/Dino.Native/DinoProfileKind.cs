namespace Dino;

/// <summary>What a <see cref="DinoProfileEntry"/> times: one op of a block (values as in dino.h).</summary>
public enum DinoProfileKind
{
    /// <summary>norm1 and attn.qkv, one fused op.</summary>
    Qkv = 0,
    /// <summary>softmax(q k^T / sqrt(d)) v over the heads.</summary>
    Attention = 1,
    /// <summary>attn.proj and the residual.</summary>
    Proj = 2,
    /// <summary>norm2, mlp.fc1 and GELU.</summary>
    Fc1 = 3,
    /// <summary>mlp.fc2 and the residual.</summary>
    Fc2 = 4,
}
