namespace Dino;

/// <summary>What loading does to a model's int8 weights (<see cref="DinoModelOptions.Int8Weights"/>).</summary>
public enum Int8Weights
{
    /// <summary>The weights as the file stores them.</summary>
    AsStored = 0,
    /// <summary>
    /// q8_0 weights rounded at load to 7 bits: each 32-value block whose values pass ±64 takes half of them (to
    /// nearest, ties to even) and twice its scale. On x86 CPUs without VNNI (AVX2: Intel Core 4th to 10th
    /// generation, AMD Zen 1 to 3) the linear layers then take one int8 multiply-add per product instead of two,
    /// about 1.3x faster, and the CLS embedding moves a little (the README's "7-bit weights" section has the
    /// drift measured on photos). Every CPU rounds the same way, but elsewhere it is no faster. q5_0 and q4_0
    /// are unchanged (q5_0's values are within ±64 already and always take the fast path).
    /// <see cref="DinoModelInfo.Kernels"/> ends its linear part with "(7-bit weights)" when it applies.
    /// </summary>
    SevenBit = 1,
}
