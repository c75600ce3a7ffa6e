namespace Dino.Tests;

/// <summary>DinoEmbeddingIndex and DinoIndexWriter: the three formats bit for bit, search as a full sort ranks, bad files.</summary>
public sealed class IndexTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("dino-index-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    // Labels a file format could trip on, and values whose text form is easy to get wrong.
    private static readonly string[] HardLabels = { "a.jpg", "with \"quotes\", and a comma", "line\nbreak", "", "naïve/日本.png", "tab\there", "back\\slash" };
    private static readonly float[] HardValues = { 0f, -0f, float.Epsilon, -float.Epsilon, float.MaxValue, float.MinValue, 1e-38f, 0.1f, 1f / 3, 16777217f, MathF.PI };

    private static DinoEmbeddingIndex Random(int rows, int dim, int seed)
    {
        var rng = new Random(seed);
        var index = new DinoEmbeddingIndex(dim);
        for (int r = 0; r < rows; r++)
        {
            var v = Enumerable.Range(0, dim).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
            if (r < HardLabels.Length) Array.Copy(HardValues, v, Math.Min(dim, HardValues.Length));
            index.Add(r < HardLabels.Length ? HardLabels[r] : $"img/{r:D4}.jpg", v);
        }
        return index;
    }

    private static void AssertSameRows(DinoEmbeddingIndex want, DinoEmbeddingIndex got)
    {
        Assert.Equal(want.Dimensions, got.Dimensions);
        Assert.Equal(want.Labels, got.Labels);
        for (int r = 0; r < want.Count; r++)
        {
            var (a, b) = (want.GetVector(r).ToArray(), got.GetVector(r).ToArray());
            Assert.Equal(a.Select(BitConverter.SingleToInt32Bits), b.Select(BitConverter.SingleToInt32Bits));
        }
    }

    [Theory]
    [InlineData("index.npy")]
    [InlineData("index.jsonl")]
    [InlineData("index.csv")]
    public void EveryFormatRoundTripsBitForBit(string name)
    {
        string path = Path.Combine(_dir, name);
        var index = Random(40, 16, seed: 1);
        index.Save(path);
        using var loaded = DinoEmbeddingIndex.Load(path);
        AssertSameRows(index, loaded);
        Assert.False(loaded.IsReadOnly);
        if (name.EndsWith(".npy"))
        {
            Assert.True(File.Exists(Path.Combine(_dir, "index.paths.txt")));
            using var mapped = DinoEmbeddingIndex.OpenMapped(path);
            Assert.True(mapped.IsReadOnly);
            AssertSameRows(index, mapped);
            Assert.Equal("DinoEmbeddingIndex: 40 rows of 16 (mapped)", mapped.ToString());
        }
        Assert.Empty(Directory.GetFiles(_dir, "*.partial", SearchOption.AllDirectories));
    }

    [Fact]
    public void AnIndexGrowsByLoadAddSave()
    {
        string path = Path.Combine(_dir, "grow.npy");
        var first = Random(5, 8, seed: 2);
        first.Save(path);
        using (var index = DinoEmbeddingIndex.Load(path))
        {
            index.Add("new.jpg", Enumerable.Range(0, 8).Select(i => (float)i).ToArray());
            index.Save(path);
        }
        using var grown = DinoEmbeddingIndex.Load(path);
        Assert.Equal(6, grown.Count);
        Assert.Equal("new.jpg", grown.GetLabel(5));
        Assert.Equal(first.GetVector(4).ToArray(), grown.GetVector(4).ToArray());
        Assert.Equal(7f, grown.GetVector(5)[7]);

        // An index without rows is still an index (npy keeps its width in the header).
        var empty = new DinoEmbeddingIndex(8);
        empty.Save(path);
        using var back = DinoEmbeddingIndex.Load(path);
        Assert.Equal((0, 8), (back.Count, back.Dimensions));
        Assert.Empty(back.Search(new float[8], k: 3));
    }

    // The rule written plainly: every cosine, a full sort (cosine down, earlier row first), the first k.
    private static List<(int row, double cos)> Reference(DinoEmbeddingIndex index, float[] q, int k) =>
        Enumerable.Range(0, index.Count).Select(r => (r, cos: DinoEmbedding.CosineSimilarity(q, index.GetVector(r))))
            .OrderByDescending(x => x.cos).ThenBy(x => x.r).Take(k).ToList();

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(500)]  // more than the index holds: all of it
    public void SearchRanksAsAFullSortDoes(int k)
    {
        var index = Random(200, 12, seed: 3);
        var rng = new Random(4);
        // Ties: copies of one row (the earlier ranks first), and a zero row (cosine 0).
        for (int c = 0; c < 3; c++) index.Add($"copy{c}", index.GetVector(50));
        index.Add("zero", new float[12]);
        string npy = Path.Combine(_dir, "search.npy");
        index.Save(npy);
        using var mapped = DinoEmbeddingIndex.OpenMapped(npy);
        foreach (float[] q in new[] { index.GetVector(50).ToArray() }.Concat(Enumerable.Range(0, 20).Select(_ => Enumerable.Range(0, 12).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray())))
        {
            var want = Reference(index, q, k);
            foreach (var source in new[] { index, mapped })
            {
                var got = source.Search(q, k);
                Assert.Equal(want.Select(w => w.row), got.Select(g => g.Row));
                Assert.Equal(want.Select(w => w.cos), got.Select(g => g.Cosine));
                Assert.Equal(want.Select(w => index.GetLabel(w.row)), got.Select(g => g.Label));
            }
        }
    }

    [Fact]
    public void BadArgumentsAreRefusedWithTheirReason()
    {
        var index = new DinoEmbeddingIndex(4);
        Assert.Throws<ArgumentOutOfRangeException>(() => new DinoEmbeddingIndex(0));
        Assert.Contains("3 values", Assert.Throws<ArgumentException>(() => index.Add("a", new float[3])).Message);
        Assert.Contains("not a finite number", Assert.Throws<ArgumentException>(() => index.Add("a", new[] { 1f, float.NaN, 0, 0 })).Message);
        Assert.Throws<ArgumentNullException>(() => index.Add(null!, new float[4]));
        index.Add("a", new float[] { 1, 0, 0, 0 });
        Assert.Throws<ArgumentOutOfRangeException>(() => index.Search(new float[4], k: 0));
        Assert.Throws<ArgumentException>(() => index.Search(new float[5]));
        Assert.Throws<ArgumentException>(() => index.Search(new[] { float.PositiveInfinity, 0, 0, 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => index.GetVector(1));
        Assert.Contains("names no index format", Assert.Throws<ArgumentException>(() => index.Save(Path.Combine(_dir, "x.npz"))).Message);
        Assert.ThrowsAny<IOException>(() => index.Save(Path.Combine(_dir, "no-such-folder", "x.npy")));

        string npy = Path.Combine(_dir, "ro.npy");
        index.Save(npy);
        var mapped = DinoEmbeddingIndex.OpenMapped(npy);
        Assert.Contains("read-only", Assert.Throws<InvalidOperationException>(() => mapped.Add("b", new float[4])).Message);
        mapped.Dispose();
        Assert.Throws<ObjectDisposedException>(() => mapped.Search(new float[4]));
        Assert.Throws<ObjectDisposedException>(() => mapped.GetVector(0));
        // Saved over while nobody maps it: the file is replaced whole.
        File.Delete(npy);
        Assert.Throws<FileNotFoundException>(() => DinoEmbeddingIndex.Load(npy));

        var writerData = new MemoryStream();
        Assert.Throws<ArgumentException>(() => new DinoIndexWriter(writerData, DinoIndexFormat.Npy, 4));  // no labels stream
        Assert.Throws<ArgumentException>(() => new DinoIndexWriter(writerData, DinoIndexFormat.Csv, 4, tokens: true));
        Assert.Throws<ArgumentException>(() => new DinoIndexWriter(new UnseekableStream(), DinoIndexFormat.Npy, 4, new MemoryStream()));
        var jsonl = new DinoIndexWriter(writerData, DinoIndexFormat.JsonLines, 4);
        Assert.Throws<ArgumentException>(() => jsonl.Write("x", new float[8]));  // two rows' worth without tokens
    }

    private sealed class UnseekableStream : MemoryStream
    {
        public override bool CanSeek => false;
    }

    [Theory]
    [InlineData("bad.npy", "not an npy", "not a .npy file")]
    [InlineData("bad.jsonl", "{\"path\": \"a\", \"embedding\": [1, 2]}\n{\"path\": \"b\"}\n", "bad.jsonl:2")]
    [InlineData("widths.jsonl", "{\"path\": \"a\", \"embedding\": [1, 2]}\n{\"path\": \"b\", \"embedding\": [1, 2, 3]}\n", "row 2 (b) has 3 values")]
    [InlineData("nan.csv", "\"a\",1,NaN\n", "not a finite number")]
    [InlineData("text.csv", "\"a\",1,two\n", "('two') is not a number")]
    [InlineData("noquote.csv", "a,1,2\n", "a quoted label")]
    [InlineData("empty.jsonl", "\n\n", "holds no embeddings")]
    public void BadFilesAreInvalidData(string name, string content, string message)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, content);
        Assert.Contains(message, Assert.Throws<InvalidDataException>(() => DinoEmbeddingIndex.Load(path)).Message);
    }

    [Fact]
    public void AnNpyAndItsPathsFileMustAgree()
    {
        string npy = Path.Combine(_dir, "pair.npy"), paths = DinoEmbeddingIndex.PathsFile(npy);
        Assert.Equal(Path.Combine(_dir, "pair.paths.txt"), paths);
        Random(3, 4, seed: 5).Save(npy);
        File.AppendAllText(paths, "\"extra\"\n");
        Assert.Contains("more paths than the 3", Assert.Throws<InvalidDataException>(() => DinoEmbeddingIndex.OpenMapped(npy)).Message);
        File.WriteAllText(paths, "\"one\"\n");
        Assert.Contains("1 paths for 3", Assert.Throws<InvalidDataException>(() => DinoEmbeddingIndex.Load(npy)).Message);
        File.Delete(paths);
        Assert.Equal(new[] { "#0", "#1", "#2" }, DinoEmbeddingIndex.Load(npy).Labels);  // numpy's own file: rows by number

        // All tokens [N, T, D] is not an index of embeddings.
        using (var data = File.Create(npy))
        using (var labels = File.Create(paths))
        {
            var w = new DinoIndexWriter(data, DinoIndexFormat.Npy, 4, labels, tokens: true);
            w.Write("a", new float[12]);
            Assert.Throws<ArgumentException>(() => w.Write("b", new float[8]));  // another token count
            w.Finish();
        }
        Assert.Contains("found [1, 3, 4]", Assert.Throws<InvalidDataException>(() => DinoEmbeddingIndex.Load(npy)).Message);
    }

    [Fact]
    public async Task DisposingAMappedIndexDuringSearchesFailsThemCleanly()
    {
        string npy = Path.Combine(_dir, "race.npy");
        Random(2000, 64, seed: 9).Save(npy);
        var q = new float[64];
        q[0] = 1;
        for (int round = 0; round < 20; round++)
        {
            var mapped = DinoEmbeddingIndex.OpenMapped(npy);
            var searches = Enumerable.Range(0, 2).Select(_ => Task.Run(() =>
            {
                for (int i = 0; i < 50; i++)
                {
                    try { Assert.Equal(3, mapped.Search(q, k: 3).Count); }
                    catch (ObjectDisposedException) { return; }
                }
            })).ToArray();
            Thread.Sleep(round % 5);
            mapped.Dispose();
            await Task.WhenAll(searches);  // only ObjectDisposedException, never a crash
        }
    }

    [Fact]
    public void RowsGoByTheirLabelsAndTheRestKeepTheirOrder()
    {
        var index = Random(10, 4, seed: 11);
        var before = Enumerable.Range(0, index.Count).Select(r => (index.GetLabel(r), index.GetVector(r).ToArray())).ToList();
        Assert.Equal(2, index.RemoveWhere(l => l is "a.jpg" or "img/0009.jpg"));
        var want = before.Where(b => b.Item1 is not ("a.jpg" or "img/0009.jpg")).ToList();
        Assert.Equal(want.Select(w => w.Item1), index.Labels);
        for (int r = 0; r < index.Count; r++) Assert.Equal(want[r].Item2, index.GetVector(r).ToArray());
        index.Add("after", new float[] { 1, 2, 3, 4 });  // adding goes on where the rows end now
        Assert.Equal(9, index.Count);
        Assert.Equal(new float[] { 1, 2, 3, 4 }, index.GetVector(8).ToArray());
        Assert.Equal(0, index.RemoveWhere(_ => false));
        Assert.Equal(9, index.RemoveWhere(_ => true));
        Assert.Equal(0, index.Count);

        string npy = Path.Combine(_dir, "remove.npy");
        Random(3, 4, seed: 12).Save(npy);
        using var mapped = DinoEmbeddingIndex.OpenMapped(npy);
        Assert.Throws<InvalidOperationException>(() => mapped.RemoveWhere(_ => true));
    }
}
