namespace Dino;

/// <summary>
/// DINO's weighted k-nearest-neighbour classifier (Caron et al., 2021; facebookresearch/dino eval_knn.py), over
/// embeddings the caller already has: the <see cref="K"/> training embeddings most similar to the query (cosine,
/// as the dot product of L2-normalised vectors) each vote for their label with weight exp(similarity / T); labels
/// rank by their summed votes. The defaults are the paper's, k = 20 and T = 0.07. Thread-safe once built.
/// </summary>
/// <remarks>
/// Ties are settled so that the same inputs always give the same answer: among equally similar neighbours the
/// earlier training example comes first, and among labels of equal score the label that sorts first (ordinal).
/// A training set smaller than k votes with all of it.
/// </remarks>
public sealed class DinoKnnClassifier
{
    private readonly float[][] _train;  // L2-normalised
    private readonly int[] _labelOf;
    private readonly string[] _labels;  // distinct, ordinal order

    /// <summary>The neighbours that vote (default 20).</summary>
    public int K { get; }

    /// <summary>The temperature of the votes' weights exp(similarity / T) (default 0.07).</summary>
    public double Temperature { get; }

    /// <summary>The labels of the training set, each once, in ordinal order.</summary>
    public IReadOnlyList<string> Labels => _labels;

    /// <summary>Builds the classifier from labelled training embeddings (CLS vectors, normalised or not).</summary>
    /// <exception cref="ArgumentException">No examples, a null or empty label, vectors of different lengths or not finite.</exception>
    /// <exception cref="ArgumentOutOfRangeException">k below 1, or a temperature that is not a positive number.</exception>
    public DinoKnnClassifier(IEnumerable<(string Label, float[] Embedding)> train, int k = 20, double temperature = 0.07)
    {
        ArgumentNullException.ThrowIfNull(train);
        if (k < 1) throw new ArgumentOutOfRangeException(nameof(k), k, "k must be 1 or more");
        if (!(temperature > 0) || double.IsInfinity(temperature)) throw new ArgumentOutOfRangeException(nameof(temperature), temperature, "the temperature must be a positive number");
        var examples = train.ToList();
        if (examples.Count == 0) throw new ArgumentException("no training examples", nameof(train));
        int dim = examples[0].Embedding?.Length ?? 0;
        _train = new float[examples.Count][];
        for (int i = 0; i < examples.Count; i++)
        {
            var (label, v) = examples[i];
            if (string.IsNullOrEmpty(label)) throw new ArgumentException($"training example {i} has no label", nameof(train));
            if (v is null || v.Length != dim || dim == 0) throw new ArgumentException($"training example {i} ({label}): {v?.Length ?? 0} values, the first has {dim}", nameof(train));
            if (!Array.TrueForAll(v, float.IsFinite)) throw new ArgumentException($"training example {i} ({label}) holds a value that is not a finite number", nameof(train));
            _train[i] = (float[])v.Clone();
            DinoEmbedding.Normalize(_train[i]);
        }
        _labels = examples.Select(e => e.Label).Distinct().OrderBy(l => l, StringComparer.Ordinal).ToArray();
        var index = _labels.Select((l, i) => (l, i)).ToDictionary(p => p.l, p => p.i, StringComparer.Ordinal);
        _labelOf = examples.Select(e => index[e.Label]).ToArray();
        (K, Temperature) = (k, temperature);
    }

    /// <summary>Every label's score for one embedding, best first (labels without a vote score 0).</summary>
    public IReadOnlyList<DinoKnnScore> Classify(ReadOnlySpan<float> embedding)
    {
        int dim = _train[0].Length;
        if (embedding.Length != dim) throw new ArgumentException($"the embedding has {embedding.Length} values; the training set's have {dim}", nameof(embedding));
        var q = embedding.ToArray();
        if (!Array.TrueForAll(q, float.IsFinite)) throw new ArgumentException("the embedding holds a value that is not a finite number", nameof(embedding));
        DinoEmbedding.Normalize(q);
        var scores = new double[_labels.Length];
        var best = TopK.Best(_train.Length, K, i =>
        {
            double sim = 0;
            float[] t = _train[i];
            for (int d = 0; d < dim; d++) sim += (double)q[d] * t[d];
            return sim;
        });
        foreach (var (i, sim) in best) scores[_labelOf[i]] += Math.Exp(sim / Temperature);
        return Enumerable.Range(0, _labels.Length)
            .OrderByDescending(l => scores[l]).ThenBy(l => _labels[l], StringComparer.Ordinal)
            .Select(l => new DinoKnnScore(_labels[l], scores[l])).ToArray();
    }
}
