namespace Dino.Tests;

/// <summary>DINO's weighted k-NN vote against an independent implementation of eval_knn.py's rule.</summary>
public class KnnTests
{
    // The rule written plainly: every similarity, a full sort (similarity down, earlier example first), the first
    // k, votes exp(sim / T) summed per label, labels by score down then name.
    private static List<(string label, double score)> Reference(List<(string label, float[] v)> train, float[] q, int k, double t)
    {
        var near = train.Select((e, i) => (e.label, sim: DinoEmbedding.CosineSimilarity(q, e.v), i))
                        .OrderByDescending(x => x.sim).ThenBy(x => x.i).Take(k);
        var score = train.Select(e => e.label).Distinct().ToDictionary(l => l, _ => 0.0);
        foreach (var n in near) score[n.label] += Math.Exp(n.sim / t);
        return score.OrderByDescending(p => p.Value).ThenBy(p => p.Key, StringComparer.Ordinal).Select(p => (p.Key, p.Value)).ToList();
    }

    private static float[] Random(Random rng, int d) => Enumerable.Range(0, d).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();

    private static void AssertSame(List<(string label, double score)> want, IReadOnlyList<DinoKnnScore> got)
    {
        Assert.Equal(want.Select(w => w.label), got.Select(g => g.Label));
        // (The classifier normalises in float32, as eval_knn.py's features are; the reference in double.)
        for (int i = 0; i < want.Count; i++) Assert.Equal(want[i].score, got[i].Score, want[i].score * 1e-5 + 1e-12);
    }

    [Theory]
    [InlineData(20, 0.07)]
    [InlineData(5, 0.07)]
    [InlineData(1, 0.5)]
    [InlineData(500, 0.07)]  // k larger than the training set: all of it votes
    public void VotesAsEvalKnnDoes(int k, double t)
    {
        var rng = new Random(3);
        var train = Enumerable.Range(0, 120).Select(i => ($"class{i % 7}", Random(rng, 24))).ToList();
        var knn = new DinoKnnClassifier(train, k, t);
        Assert.Equal(7, knn.Labels.Count);
        for (int q = 0; q < 30; q++)
        {
            float[] query = Random(rng, 24);
            AssertSame(Reference(train, query, k, t), knn.Classify(query));
        }
    }

    [Fact]
    public void TiesOneClassAndLabelsWithoutVotes()
    {
        // Identical vectors under different labels: the earlier example is nearer; the label order settles equal scores.
        var v = new float[] { 1, 0, 0 };
        var train = new List<(string, float[])> { ("b", v), ("a", v), ("c", new float[] { 0, 1, 0 }) };
        var knn = new DinoKnnClassifier(train, k: 1);
        var got = knn.Classify(v);
        Assert.Equal(new[] { "b", "a", "c" }, got.Select(s => s.Label));  // a and c without a vote: 0, by name
        Assert.Equal(0, got[1].Score);
        AssertSame(Reference(train, v, 1, 0.07), got);
        AssertSame(Reference(train, v, 2, 0.07), new DinoKnnClassifier(train, k: 2).Classify(v));  // b and a: equal, a first by name
        Assert.Equal("a", new DinoKnnClassifier(train, k: 2).Classify(v)[0].Label);

        var one = new DinoKnnClassifier(new[] { ("only", v), ("only", new float[] { 0, 0, 2 }) });
        var only = one.Classify(new float[] { 3, 1, 0 });
        Assert.Single(only);
        Assert.Equal("only", only[0].Label);
        // Normalised or not, the same votes (cosine).
        AssertSame(Reference(train, new float[] { 5, 1, 0 }, 2, 0.07), new DinoKnnClassifier(train, k: 2).Classify(new float[] { 5, 1, 0 }));
    }

    [Fact]
    public void BadInputsSayWhatIsWrong()
    {
        var v = new float[] { 1, 2 };
        Assert.Throws<ArgumentException>(() => new DinoKnnClassifier(Array.Empty<(string, float[])>()));
        Assert.Throws<ArgumentException>(() => new DinoKnnClassifier(new[] { ("a", v), ("b", new float[] { 1 }) }));
        Assert.Throws<ArgumentException>(() => new DinoKnnClassifier(new[] { ("", v) }));
        Assert.Throws<ArgumentException>(() => new DinoKnnClassifier(new[] { ("a", new[] { float.NaN, 1f }) }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new DinoKnnClassifier(new[] { ("a", v) }, k: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new DinoKnnClassifier(new[] { ("a", v) }, temperature: double.NaN));
        var knn = new DinoKnnClassifier(new[] { ("a", v) });
        Assert.Contains("3 values", Assert.Throws<ArgumentException>(() => knn.Classify(new float[3])).Message);
    }
}
