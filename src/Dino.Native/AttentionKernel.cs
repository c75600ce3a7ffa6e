namespace Dino;

/// <summary>How attention is computed (the requested attention outputs always come from <see cref="Exact"/>).</summary>
public enum AttentionKernel
{
    /// <summary>The library's choice (currently <see cref="Flash"/>).</summary>
    Auto = 0,
    /// <summary>softmax(q k^T / sqrt d) v in f32, as written; builds the tokens x tokens matrix.</summary>
    Exact = 1,
    /// <summary>Fused attention that never builds the T x T matrix: the library's own AVX-512 kernel where the CPU has it, else ggml's flash attention; faster, as close to PyTorch as Exact.</summary>
    Flash = 2,
}
