namespace Dino;

/// <summary>What a loaded model is.</summary>
/// <param name="Name">general.name of the file.</param>
/// <param name="WeightType">Type of the linear weights: "f32", "q8_0"; a mix as "q5_0/q4_K".</param>
/// <param name="EmbeddingLength">Width D (384 for ViT-S).</param>
/// <param name="BlockCount">Transformer blocks.</param>
/// <param name="HeadCount">Attention heads.</param>
/// <param name="FeedForwardLength">MLP hidden width.</param>
/// <param name="PatchSize">Patch size in pixels.</param>
/// <param name="ImageSize">Native input size (the position table's grid times the patch size).</param>
/// <param name="LayerNormEps">LayerNorm epsilon (1e-6 original DINO, 1e-12 Hugging Face).</param>
/// <param name="ParameterCount">Number of parameters.</param>
/// <param name="WeightBytes">Bytes of weights held in memory (in the kernels' layout where they have one).</param>
/// <param name="Kernels">What computes on this CPU by default, e.g. "linear avx512-vnni, attention avx512-bf16" (int8
/// weights, bf16 attention: <see cref="AttentionKernel.Bf16"/>), "linear dotprod-int8, attention dotprod-int8" (arm64, int8
/// attention: <see cref="AttentionKernel.Int8"/>), "linear avx512, attention avx512" or
/// "linear avx2-int8, attention avx2" (the library's own kernels) or "linear ggml, attention ggml"
/// (ggml's stock ops: no AVX2 here, a weight type without a kernel, or DINO_KERNELS=ggml); "linear avx2-int8 (7-bit
/// weights), ..." where loading rounded q8_0 weights (<see cref="Int8Weights.SevenBit"/>).</param>
/// <param name="Quantization">How <c>dino quantize</c> made the file: the layers' types, the importance matrix and
/// the target it met; "" for files made otherwise.</param>
public sealed record DinoModelInfo(
    string Name, string WeightType, int EmbeddingLength, int BlockCount, int HeadCount, int FeedForwardLength,
    int PatchSize, int ImageSize, float LayerNormEps, long ParameterCount, long WeightBytes, string Kernels,
    string Quantization)
{
    /// <summary>"dino" (DINO ViT) or "dinov2" (DINOv2: LayerScale, and registers where <see cref="RegisterCount"/> &gt; 0).</summary>
    public string Family { get; init; } = "dino";

    /// <summary>Register tokens (4 in DINOv2 with registers; 0 otherwise). They are not among the tokens of the outputs:
    /// <see cref="EmbedOptions.Registers"/> returns them.</summary>
    public int RegisterCount { get; init; }

    /// <summary>True for ViT-g/14's SwiGLU MLP (<see cref="FeedForwardLength"/> is then its hidden width); false for
    /// fc1, GELU, fc2.</summary>
    public bool SwiGlu { get; init; }

    /// <summary>How the model's reference resamples its position grid for other sizes (never <see cref="PositionInterpolation.Model"/>).</summary>
    public PositionInterpolation PositionInterpolation { get; init; }

    /// <summary>The size the default preprocessing yields (224 for DINO and DINOv2); <see cref="ImageSize"/> is the
    /// position grid's native size (518 for DINOv2).</summary>
    public int InputSize { get; init; }
}
