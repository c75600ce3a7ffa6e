namespace Dino;

/// <summary>What the last block's attention output holds.</summary>
public enum AttentionOutput
{
    /// <summary>No attention output.</summary>
    None = 0,
    /// <summary>The CLS token's attention over all tokens, per head: [heads, 1, tokens] (DINO's attention maps).</summary>
    ClsQuery = 1,
    /// <summary>The full matrix, per head: [heads, tokens, tokens].</summary>
    Full = 2,
}
