using System.Diagnostics;
using System.Reflection;
using System.Text.Json;
using Xunit.Abstractions;

namespace Dino.Tests;

/// <summary>The dino command, run as a process the way users run it.</summary>
[Collection("models")]
public class CliTests(ModelFixture models, ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("dino-cli-").FullName;
    private static readonly string Model = TestData.Data("vits8-hf-f32.gguf");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string CliPath()
    {
        string config = typeof(CliTests).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()!.Configuration;
        return Path.Combine(TestData.RepoRoot, "src", "Dino.Cli", "bin", config, "net10.0", "dino.dll");
    }

    private (int code, string stdout, string stderr) Dino(params string[] args) => DinoWith(new Dictionary<string, string>(), args);

    private (int code, string stdout, string stderr) DinoWith(Dictionary<string, string> env, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = _dir };
        foreach (var (k, v) in env) psi.Environment[k] = v;
        psi.ArgumentList.Add(CliPath());
        foreach (string a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        output.WriteLine($"$ dino {string.Join(' ', args)} -> {p.ExitCode}\n{(stdout.Length > 2000 ? stdout[..2000] + "..." : stdout)}{err.Result}");
        return (p.ExitCode, stdout, err.Result);
    }

    /// <summary>A folder of good images with two broken ones in a subfolder.</summary>
    private string Folder()
    {
        string d = Path.Combine(_dir, "photos");
        Directory.CreateDirectory(Path.Combine(d, "more"));
        foreach (string f in new[] { "rgb.png", "photo.jpg", "gray.png" }) File.Copy(TestData.Image(f), Path.Combine(d, f));
        File.Copy(TestData.Image("rgba.png"), Path.Combine(d, "more", "rgba.png"));
        File.WriteAllBytes(Path.Combine(d, "more", "broken.png"), File.ReadAllBytes(TestData.Image("rgb.png"))[..500]);
        File.WriteAllText(Path.Combine(d, "more", "notes.jpg"), "not an image");
        return d;
    }

    [Fact]
    public void EmbedSkipsBrokenImagesAndWritesNpyThatMatchesTheApi()
    {
        string photos = Folder(), npy = Path.Combine(_dir, "emb.npy");
        var (code, _, err) = Dino("embed", "-m", Model, photos, "-o", npy);
        Assert.Equal(1, code);  // some inputs failed
        Assert.Contains("broken.png", err);
        Assert.Contains("notes.jpg", err);
        Assert.Contains("2 failed", err);

        var (shape, data) = TestData.ReadNpy(npy);
        Assert.Equal(new[] { 4, 384 }, shape);
        string[] paths = File.ReadAllLines(Path.Combine(_dir, "emb.paths.txt"));
        Assert.Equal(new[] { "gray.png", "more/rgba.png", "photo.jpg", "rgb.png" },
                     paths.Select(p => Path.GetRelativePath(photos, p)).ToArray());
        for (int i = 0; i < 4; i++)
            Assert.Equal(models.Hf.Embed(paths[i]).Embedding, data.AsSpan(i * 384, 384).ToArray());
        Assert.Empty(Directory.GetFiles(_dir, "*.partial"));
    }

    [Fact]
    public void NumpyReadsTheNpyOutput()
    {
        string npy = Path.Combine(_dir, "tok.npy");
        Assert.Equal(0, Dino("embed", "-m", TestData.Data("tiny-hf-f32.gguf"), TestData.Image("rgb.png"), TestData.Image("tiny.png"), "--tokens", "-o", npy).code);
        string python = File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
        var psi = new ProcessStartInfo(python, new[] { "-c", $"import numpy; a = numpy.load('{npy}'); print(a.shape, a.dtype)" }) { RedirectStandardOutput = true };
        using var p = Process.Start(psi)!;
        string printed = p.StandardOutput.ReadToEnd().Trim();
        p.WaitForExit();
        Assert.Equal("(2, 17, 64) float32", printed);
    }

    [Fact]
    public void JsonLinesAndCsvCarryTheSameVectors()
    {
        var (code, stdout, _) = Dino("embed", "-m", Model, TestData.Image("photo.jpg"), "--normalize");
        Assert.Equal(0, code);
        using var doc = JsonDocument.Parse(stdout.Trim());
        float[] v = doc.RootElement.GetProperty("embedding").EnumerateArray().Select(x => x.GetSingle()).ToArray();
        Assert.Equal(models.Hf.Embed(TestData.Image("photo.jpg")).NormalizedEmbedding(), v);
        var csv = Dino("embed", "-m", Model, TestData.Image("photo.jpg"), "--normalize", "-f", "csv");
        Assert.Equal(v, csv.stdout.Trim().Split(',').Skip(1).Select(float.Parse).ToArray());
    }

    [Fact]
    public void PreprocessedTensorsEmbedLikeTheirImages()
    {
        string npy = Path.Combine(_dir, "photo.npy");
        Assert.Equal(0, Dino("preprocess", "-m", Model, TestData.Image("photo.jpg"), "-o", npy).code);
        var (shape, data) = TestData.ReadNpy(npy);
        Assert.Equal(new[] { 3, 224, 224 }, shape);
        Assert.Equal(models.Hf.Preprocess(TestData.Image("photo.jpg")).Data, data);
        var (code, stdout, _) = Dino("embed", "-m", Model, npy);
        Assert.Equal(0, code);
        using var doc = JsonDocument.Parse(stdout.Trim());
        Assert.Equal(models.Hf.Embed(TestData.Image("photo.jpg")).Embedding,
                     doc.RootElement.GetProperty("embedding").EnumerateArray().Select(x => x.GetSingle()).ToArray());
    }

    [Fact]
    public void SimilarFindsTheQueryFirst()
    {
        string photos = Folder(), npy = Path.Combine(_dir, "index.npy");
        Dino("embed", "-m", Model, photos, "-o", npy);
        var (code, stdout, _) = Dino("similar", "-m", Model, Path.Combine(photos, "photo.jpg"), npy, "-k", "2");
        Assert.Equal(0, code);
        string[] lines = stdout.Trim().Split('\n');
        Assert.Equal(3, lines.Length);
        Assert.StartsWith("1\t1.0000\t", lines[1]);
        Assert.EndsWith("photo.jpg", lines[1]);
    }

    [Fact]
    public void AttentionWritesOnePanelPerHead()
    {
        string png = Path.Combine(_dir, "att.png");
        Assert.Equal(0, Dino("attention", "-m", Model, TestData.Image("photo.jpg"), "-o", png, "--size", "160").code);
        using var image = SixLabors.ImageSharp.Image.Load(png);
        Assert.Equal((7 * 160, 2 * 160), (image.Width, image.Height));  // input + 6 heads, two rows
    }

    [Fact]
    public void QuantizeInfoAndBenchReport()
    {
        string q = Path.Combine(_dir, "q8.gguf");
        var (code, stdout, _) = Dino("quantize", TestData.Data("tiny-hf-f32.gguf"), q, "--type", "q8_0");
        Assert.Equal(0, code);
        Assert.Contains("CLS cosine", stdout);
        var info = Dino("info", q, "--json");
        Assert.Equal(0, info.code);
        using var doc = JsonDocument.Parse(info.stdout);
        Assert.Equal("q8_0", doc.RootElement.GetProperty("info").GetProperty("WeightType").GetString());
        var bench = Dino("bench", "-m", q, "--runs", "2", "--json");
        Assert.Equal(0, bench.code);
        using var b = JsonDocument.Parse(bench.stdout);
        Assert.True(b.RootElement.GetProperty("median_ms_per_image").GetDouble() > 0);
        Assert.True(b.RootElement.GetProperty("peak_rss_mb").GetDouble() > 0);
    }

    [Fact]
    public void ExitCodesFollowTheDocumentation()
    {
        Assert.Equal(2, Dino("embed", TestData.Image("rgb.png")).code);                                  // no model
        Assert.Equal(2, Dino("embed", "-m", Model, Path.Combine(_dir, "nowhere")).code);                  // no such input
        Assert.Equal(2, Dino("embed", "-m", Model, TestData.Image("rgb.png"), "-f", "npy").code);         // npy needs -o
        Assert.Equal(2, Dino("embed", "-m", Model, TestData.Image("rgb.png"), "--size", "100").code);     // not a multiple of 8
        Assert.Equal(2, Dino("frobnicate").code);
        Assert.Equal(3, Dino("embed", "-m", TestData.Image("rgb.png"), TestData.Image("rgb.png")).code);  // not a model
        Assert.Equal(3, Dino("info", Path.Combine(_dir, "missing.gguf")).code);
        Assert.Equal(1, Dino("preprocess", "-m", Model, Path.Combine(TestData.RepoRoot, "README.md"), "-o", Path.Combine(_dir, "x.npy")).code);
        foreach (string c in new[] { "embed", "similar", "attention", "preprocess", "quantize", "info", "bench" })
        {
            var (code, stdout, _) = Dino(c, "--help");
            Assert.Equal(0, code);
            Assert.Contains("Examples:", stdout);
        }
    }

    [Fact]
    public void AKilledRunLeavesNoOutputThatLooksComplete()
    {
        string photos = Path.Combine(_dir, "many");
        Directory.CreateDirectory(photos);
        for (int i = 0; i < 40; i++) File.Copy(TestData.Image("rgb.png"), Path.Combine(photos, $"{i:D2}.png"));
        string npy = Path.Combine(_dir, "killed.npy");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardError = true, WorkingDirectory = _dir };
        foreach (string a in new[] { CliPath(), "embed", "-m", Model, photos, "-o", npy, "--batch", "1" }) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        string line = p.StandardError.ReadLine() ?? "";  // the first progress line: work has started
        p.Kill(entireProcessTree: true);
        p.WaitForExit();
        output.WriteLine("killed after: " + line);
        Assert.False(File.Exists(npy), "a killed run left " + npy);
        Assert.False(File.Exists(Path.Combine(_dir, "killed.paths.txt")));
    }

    [Fact]
    public void TheNativeLoaderCanBeSteeredAndExplainsFailures()
    {
        // Every variant this CPU runs works, and gives the same embedding.
        string? first = null;
        foreach (string variant in DinoNativeLibrary.SupportedCpuVariants)
        {
            var (code, stdout, err) = DinoWith(new() { ["DINO_CPU_VARIANT"] = variant }, "embed", "-m", TestData.Data("tiny-hf-f32.gguf"), TestData.Image("rgb.png"));
            Assert.True(code == 0, $"{variant}: {err}");
            first ??= stdout;
            using var a = JsonDocument.Parse(first);
            using var b = JsonDocument.Parse(stdout);
            var va = a.RootElement.GetProperty("embedding").EnumerateArray().Select(x => x.GetSingle()).ToArray();
            var vb = b.RootElement.GetProperty("embedding").EnumerateArray().Select(x => x.GetSingle()).ToArray();
            Assert.True(DinoEmbedding.CosineSimilarity(va, vb) > 0.99999, variant);
        }
        var bad = DinoWith(new() { ["DINO_CPU_VARIANT"] = "avx9000" }, "info", TestData.Data("tiny-hf-f32.gguf"));
        Assert.Equal(3, bad.code);
        Assert.Contains("cannot run on this CPU", bad.stderr);
        var missing = DinoWith(new() { ["DINO_NATIVE_DIR"] = Path.Combine(_dir, "nowhere") }, "info", TestData.Data("tiny-hf-f32.gguf"));
        Assert.Equal(3, missing.code);
        Assert.Contains("Tried:", missing.stderr);
        Assert.Contains("nowhere", missing.stderr);
    }
}
