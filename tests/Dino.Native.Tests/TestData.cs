using System.Text;

namespace Dino.Tests;

/// <summary>Paths of the repository's test data, and .npy reading.</summary>
internal static class TestData
{
    internal static readonly string RepoRoot = FindRoot();

    /// <summary>What make_test_data.py wrote (ctest's "testdata" fixture runs first in scripts/test.sh).</summary>
    internal static string Data(string name) =>
        Path.Combine(Environment.GetEnvironmentVariable("DINO_TEST_DATA") ?? Path.Combine(RepoRoot, "build", "testdata"), name);

    internal static string Reference(string name) => Path.Combine(RepoRoot, "tests", "reference", name);

    internal static string Image(string name) => Path.Combine(RepoRoot, "tests", "images", name);

    /// <summary>native/cpu-variants.txt: the x86-64 ggml levels, best first, with the /proc/cpuinfo features each needs.</summary>
    internal static IReadOnlyList<(string Level, string[] Needs)> CpuLevels =>
        File.ReadLines(Path.Combine(RepoRoot, "native", "cpu-variants.txt"))
            .Select(line => line.Split('#')[0].Split('|'))
            .Where(columns => columns.Length == 3)
            .Select(columns => (columns[0].Trim(), columns[1].Split(' ', StringSplitOptions.RemoveEmptyEntries)))
            .ToList();

    private static string FindRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "native", "dino.h"))) return d.FullName;
        }
        throw new InvalidOperationException("cannot find the repository root from " + AppContext.BaseDirectory);
    }

    /// <summary>A little-endian C-order .npy of float32 or uint8: (shape, values as float).</summary>
    internal static (int[] shape, float[] data) ReadNpy(string path)
    {
        byte[] b = File.ReadAllBytes(path);
        if (b.Length < 10 || Encoding.ASCII.GetString(b, 1, 5) != "NUMPY") throw new InvalidDataException(path + ": not .npy");
        int headerLen = b[6] == 1 ? BitConverter.ToUInt16(b, 8) : BitConverter.ToInt32(b, 8);
        int start = b[6] == 1 ? 10 : 12;
        string header = Encoding.ASCII.GetString(b, start, headerLen);
        int open = header.IndexOf('(', header.IndexOf("'shape'", StringComparison.Ordinal)), close = header.IndexOf(')', open);
        int[] shape = header[(open + 1)..close].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(int.Parse).ToArray();
        int count = shape.Aggregate(1, (a, x) => a * x);
        int data = start + headerLen;
        var values = new float[count];
        if (header.Contains("'<f4'")) Buffer.BlockCopy(b, data, values, 0, count * 4);
        else if (header.Contains("'|u1'")) for (int i = 0; i < count; i++) values[i] = b[data + i];
        else throw new InvalidDataException(path + ": only float32 and uint8 are read");
        return (shape, values);
    }

    /// <summary>The HF processor's arithmetic on H x W x 3 bytes: CHW float32.</summary>
    internal static float[] Normalize(float[] hwc, int h, int w)
    {
        float[] mean = { 0.485f, 0.456f, 0.406f }, std = { 0.229f, 0.224f, 0.225f };
        var chw = new float[3 * h * w];
        for (int c = 0; c < 3; c++)
            for (int i = 0; i < h * w; i++)
                chw[c * h * w + i] = ((float)(hwc[i * 3 + c] * (1.0 / 255.0)) - mean[c]) / std[c];
        return chw;
    }

    internal static double Cosine(ReadOnlySpan<float> a, ReadOnlySpan<float> b) => DinoEmbedding.CosineSimilarity(a, b);
}

/// <summary>Loads the shared test models once.</summary>
public sealed class ModelFixture : IDisposable
{
    public DinoModel Hf { get; } = DinoModel.Load(TestData.Data("vits8-hf-f32.gguf"));
    public DinoModel Q8 { get; } = DinoModel.Load(TestData.Data("vits8-dino-q8_0.gguf"));
    public DinoModel Tiny { get; } = DinoModel.Load(TestData.Data("tiny-hf-f32.gguf"));

    public void Dispose()
    {
        Hf.Dispose();
        Q8.Dispose();
        Tiny.Dispose();
    }
}

[CollectionDefinition("models")]
public sealed class ModelCollection : ICollectionFixture<ModelFixture> { }

[CollectionDefinition("serial", DisableParallelization = true)]
public sealed class SerialCollection { }
