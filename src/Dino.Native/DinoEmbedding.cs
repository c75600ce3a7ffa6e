namespace Dino;

/// <summary>The result for one image.</summary>
public sealed class DinoEmbedding
{
    internal DinoEmbedding(float[] embedding, int tokenCount, int gridHeight, int gridWidth, int heads,
                           float[]? tokens, float[]? attention, float[]? intermediate, int intermediateCount,
                           float[]? registers = null)
    {
        Registers = registers;
        Embedding = embedding;
        TokenCount = tokenCount;
        GridHeight = gridHeight;
        GridWidth = gridWidth;
        HeadCount = heads;
        Tokens = tokens;
        Attention = attention;
        Intermediate = intermediate;
        IntermediateLayerCount = intermediateCount;
    }

    /// <summary>The image embedding: the CLS row of the last hidden state (not normalized).</summary>
    public float[] Embedding { get; }

    /// <summary>Embedding width (384 for ViT-S).</summary>
    public int Dimensions => Embedding.Length;

    /// <summary>Tokens per image: 1 + GridHeight x GridWidth.</summary>
    public int TokenCount { get; }

    /// <summary>Patch rows (input height / patch size).</summary>
    public int GridHeight { get; }

    /// <summary>Patch columns (input width / patch size).</summary>
    public int GridWidth { get; }

    /// <summary>Attention heads.</summary>
    public int HeadCount { get; }

    /// <summary>All tokens [TokenCount, Dimensions] (CLS first, patches in raster order), when requested.</summary>
    public float[]? Tokens { get; }

    /// <summary>Last-block attention [heads, queries, TokenCount] (queries = 1 for the CLS query), when requested.</summary>
    public float[]? Attention { get; }

    /// <summary>Last-n block outputs [n, TokenCount, Dimensions], oldest first, when requested.</summary>
    public float[]? Intermediate { get; }

    /// <summary>The register tokens [registers, Dimensions] after the final LayerNorm (DINOv2 with registers), when
    /// requested (<see cref="EmbedOptions.Registers"/>). They are not among <see cref="Tokens"/>.</summary>
    public float[]? Registers { get; }

    /// <summary>How many block outputs <see cref="Intermediate"/> holds.</summary>
    public int IntermediateLayerCount { get; }

    /// <summary>Token i (0 = CLS) of the last hidden state.</summary>
    public ReadOnlySpan<float> Token(int index) =>
        (Tokens ?? throw new InvalidOperationException("tokens were not requested (EmbedOptions.Tokens)"))
        .AsSpan(checked(index * Dimensions), Dimensions);

    /// <summary>The CLS attention of one head over the patches only, as a GridHeight x GridWidth map (row-major).</summary>
    public float[] AttentionMap(int head)
    {
        if (Attention == null) throw new InvalidOperationException("attention was not requested (EmbedOptions.Attention)");
        if ((uint)head >= (uint)HeadCount) throw new ArgumentOutOfRangeException(nameof(head));
        int queries = Attention.Length / (HeadCount * TokenCount);
        return Attention.AsSpan(head * queries * TokenCount + 1, TokenCount - 1).ToArray();
    }

    /// <summary>What this result holds, e.g. "DinoEmbedding: 384 dims, 785 tokens (28x28 patches), outputs: tokens, attention (6 heads, CLS row)".</summary>
    public override string ToString()
    {
        var outputs = new List<string>();
        if (Tokens != null) outputs.Add("tokens");
        if (Attention != null)
            outputs.Add($"attention ({HeadCount} heads, {(Attention.Length / (HeadCount * TokenCount) == 1 ? "CLS row" : "full")})");
        if (Intermediate != null) outputs.Add($"{IntermediateLayerCount} intermediate layers");
        if (Registers != null) outputs.Add($"{Registers.Length / Dimensions} registers");
        return $"DinoEmbedding: {Dimensions} dims, {TokenCount} tokens ({GridHeight}x{GridWidth} patches), " +
               $"outputs: {(outputs.Count > 0 ? string.Join(", ", outputs) : "CLS only")}";
    }

    /// <summary>A unit-length copy of <see cref="Embedding"/>.</summary>
    public float[] NormalizedEmbedding()
    {
        float[] v = (float[])Embedding.Clone();
        Normalize(v);
        return v;
    }

    /// <summary>Scales a vector to unit length (L2) in place; a zero vector stays zero.</summary>
    public static void Normalize(Span<float> vector)
    {
        double n = 0;
        foreach (float x in vector) n += (double)x * x;
        float k = n > 0 ? (float)(1 / Math.Sqrt(n)) : 0;
        for (int i = 0; i < vector.Length; i++) vector[i] *= k;
    }

    /// <summary>Cosine similarity of two vectors of the same length.</summary>
    public static double CosineSimilarity(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        if (a.Length != b.Length) throw new ArgumentException("vectors of different lengths");
        double ab = 0, aa = 0, bb = 0;
        for (int i = 0; i < a.Length; i++)
        {
            ab += (double)a[i] * b[i];
            aa += (double)a[i] * a[i];
            bb += (double)b[i] * b[i];
        }
        return aa > 0 && bb > 0 ? ab / Math.Sqrt(aa * bb) : 0;
    }
}
