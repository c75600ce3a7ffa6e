namespace Dino;

/// <summary>How attention is computed (the requested attention outputs always come from <see cref="Exact"/>).</summary>
public enum AttentionKernel
{
    /// <summary>The library's choice for the model (<see cref="DinoModelInfo.Kernels"/> says which): <see cref="Flash"/>; for models with int8 weights <see cref="Bf16"/> where the CPU has it, else <see cref="Int8"/> on arm64 (where it takes a third to two thirds of <see cref="Flash"/>'s instructions).</summary>
    Auto = 0,
    /// <summary>softmax(q k^T / sqrt d) v in f32, as written; builds the tokens x tokens matrix.</summary>
    Exact = 1,
    /// <summary>Fused attention that never builds the T x T matrix: the library's own AVX-512 kernel where the CPU has it, else ggml's flash attention; faster, as close to PyTorch as Exact.</summary>
    Flash = 2,
    /// <summary><see cref="Flash"/> with q k^T and p v as bf16 dot products (AVX512_BF16: Zen 4 and later, Sapphire Rapids and later): about twice as fast; q, k, v and the probabilities are rounded to bf16, every sum and the softmax stay f32. <see cref="Flash"/> where the CPU lacks it.</summary>
    Bf16 = 3,
    /// <summary><see cref="Flash"/> with q k^T and p v as int8 products on q8_0 blocks (the int8 kernels of the linear layers): each head's keys, values, queries and probabilities quantized per 32 values, the sums exact, the softmax in f32. Needs head_dim a multiple of 32 (<see cref="Flash"/> otherwise).</summary>
    Int8 = 4,
}
