using System.Diagnostics;
using System.Globalization;
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

    public void Dispose()
    {
        // rm, not Directory.Delete: .NET cannot name (so cannot delete) a file whose name is not UTF-8.
        using var rm = Process.Start("rm", new[] { "-rf", _dir })!;
        rm.WaitForExit();
    }

    private static string CliPath()
    {
        string config = typeof(CliTests).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()!.Configuration;
        return Path.Combine(TestData.RepoRoot, "src", "Dino.Cli", "bin", config, "net10.0", "dino.dll");
    }

    private (int code, string stdout, string stderr) Dino(params string[] args) => DinoWith(new Dictionary<string, string>(), args);

    private (int code, string stdout, string stderr) DinoWith(Dictionary<string, string> env, params string[] args) =>
        DinoUnder(env, Array.Empty<string>(), args);

    // The dino command started through a launcher (taskset -c 0 ...), or straight when there is none.
    private (int code, string stdout, string stderr) DinoUnder(Dictionary<string, string> env, string[] launcher, params string[] args)
    {
        var psi = new ProcessStartInfo(launcher.Length > 0 ? launcher[0] : "dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = _dir };
        foreach (var (k, v) in env) psi.Environment[k] = v;
        foreach (string a in launcher.Skip(1)) psi.ArgumentList.Add(a);
        if (launcher.Length > 0) psi.ArgumentList.Add("dotnet");
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
        File.WriteAllText(Path.Combine(d, "README.txt"), "not an image by its name: not read");
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
        Assert.Contains("; in the folders, 1 other file(s) not read (e.g. README.txt)", err);

        var (shape, data) = TestData.ReadNpy(npy);
        Assert.Equal(new[] { 4, 384 }, shape);
        string[] paths = File.ReadAllLines(Path.Combine(_dir, "emb.paths.txt")).Select(l => JsonSerializer.Deserialize<string>(l)!).ToArray();
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
        // The library's index answers as 'dino similar' does.
        using (var index = DinoEmbeddingIndex.OpenMapped(npy))
        {
            var hits = index.Search(models.Hf.Embed(Path.Combine(photos, "photo.jpg")).Embedding, k: 2);
            Assert.Equal(lines.Skip(1), hits.Select((h, i) => $"{i + 1}\t{h.Cosine.ToString("F4", System.Globalization.CultureInfo.InvariantCulture)}\t{h.Label}"));
        }

        // Every index 'embed' writes reads back the same: npy (above), JSON lines and CSV.
        foreach (string ext in new[] { "jsonl", "csv" })
        {
            string index = Path.Combine(_dir, "index." + ext);
            Dino("embed", "-m", Model, photos, "-o", index);
            var other = Dino("similar", "-m", Model, Path.Combine(photos, "photo.jpg"), index, "-k", "2");
            Assert.True(other.code == 0, $"{ext}: {other.stderr}");
            Assert.Equal(stdout, other.stdout);
        }
        // An index without rows is an error, not an empty result.
        string empty = Path.Combine(_dir, "empty.jsonl");
        File.WriteAllText(empty, "\n");
        var (ec, _, eerr) = Dino("similar", "-m", Model, Path.Combine(photos, "photo.jpg"), empty);
        Assert.NotEqual(0, ec);
        Assert.Contains("holds no embeddings", eerr);
    }

    // DINOv2 through the same commands, called as for DINO: info names it, embed and attention run at its 224.
    [Fact]
    public void Dinov2WithRegistersRunsThroughTheSameCommands()
    {
        string model = TestData.Data("v2s14reg-hf-f32.gguf");
        var info = Dino("info", model);
        Assert.Equal(0, info.code);
        Assert.Contains("DINOv2 ViT: width 384, 12 blocks, 6 heads, MLP 1536, patch 14, 4 registers", info.stdout);
        Assert.Contains("224x224 by default; position grid for 518x518", info.stdout);
        using (var doc = JsonDocument.Parse(Dino("info", model, "--json").stdout))
        {
            var i = doc.RootElement.GetProperty("info");
            Assert.Equal(("dinov2", 4, 224), (i.GetProperty("family").GetString(), i.GetProperty("register_count").GetInt32(), i.GetProperty("input_size").GetInt32()));
        }
        string npy = Path.Combine(_dir, "v2.npy");
        Assert.Equal(0, Dino("embed", "-m", model, TestData.Image("rgb.png"), "-o", npy).code);
        using var m = DinoModel.Load(model);
        var (shape, data) = TestData.ReadNpy(npy);
        Assert.Equal(new[] { 1, 384 }, shape);
        Assert.Equal(m.Embed(TestData.Image("rgb.png")).Embedding, data);
        string png = Path.Combine(_dir, "v2.png");
        Assert.Equal(0, Dino("attention", "-m", model, TestData.Image("rgb.png"), "-o", png).code);
        using var image = SixLabors.ImageSharp.Image.Load(png);
        Assert.Equal((7 * 224, 2 * 224), (image.Width, image.Height));
    }

    [Fact]
    public void AttentionWritesOnePanelPerHead()
    {
        string png = Path.Combine(_dir, "att.png");
        Assert.Equal(0, Dino("attention", "-m", Model, TestData.Image("photo.jpg"), "-o", png, "--size", "160").code);
        using (var image = SixLabors.ImageSharp.Image.Load(png))
            Assert.Equal((7 * 160, 2 * 160), (image.Width, image.Height));  // input + 6 heads, two rows

        // By default the model's own size (224), each panel captioned: white letters on a black box at its top left.
        Assert.Equal(0, Dino("attention", "-m", Model, TestData.Image("photo.jpg"), "-o", png).code);
        using var labelled = SixLabors.ImageSharp.Image.Load<SixLabors.ImageSharp.PixelFormats.Rgb24>(png);
        Assert.Equal((7 * 224, 2 * 224), (labelled.Width, labelled.Height));
        foreach (var (x0, y0) in new[] { (0, 0), (224, 0), (6 * 224, 0), (0, 224), (6 * 224, 224) })
        {
            Assert.Equal(new SixLabors.ImageSharp.PixelFormats.Rgb24(0, 0, 0), labelled[x0, y0]);
            bool white = false;
            for (int y = y0; y < y0 + 18; y++)
                for (int x = x0; x < x0 + 40; x++) white |= labelled[x, y] == new SixLabors.ImageSharp.PixelFormats.Rgb24(255, 255, 255);
            Assert.True(white, $"no caption at ({x0}, {y0})");
        }
    }

    [Fact]
    public void QuantizeInfoAndBenchReport()
    {
        string q = Path.Combine(_dir, "q8.gguf");
        var (code, stdout, _) = Dino("quantize", TestData.Data("tiny-hf-f32.gguf"), q, "--type", "q8_0");
        Assert.Equal(0, code);
        Assert.Contains("CLS cosine", stdout);

        // An output folder that does not exist is a usage error (2), as for every command, naming the folder,
        // found before quantizing.
        string lost = Path.Combine(_dir, "no-such-folder", "q.gguf");
        var (lc, _, lerr) = Dino("quantize", TestData.Data("tiny-hf-f32.gguf"), lost, "--type", "q8_0");
        Assert.Equal(2, lc);
        Assert.Contains($"{Path.GetDirectoryName(lost)}: no such folder for the output", lerr);
        // A bad probe image is skipped and counted (exit 1); the model is written and the drift reported.
        string probes = Path.Combine(_dir, "probes");
        Directory.CreateDirectory(probes);
        File.Copy(TestData.Image("rgb.png"), Path.Combine(probes, "good.png"));
        File.WriteAllText(Path.Combine(probes, "bad.png"), "not a png");
        string q2 = Path.Combine(_dir, "q8-probed.gguf");
        var (pc, pout, perr) = Dino("quantize", TestData.Data("tiny-hf-f32.gguf"), q2, "--type", "q8_0", "--probe", probes);
        Assert.Equal(1, pc);
        Assert.True(File.Exists(q2));
        Assert.Contains("over 1 probe image(s); 1 image(s) failed", pout);
        Assert.Contains("skipped:", perr);
        var info = Dino("info", q, "--json");
        Assert.Equal(0, info.code);
        using var doc = JsonDocument.Parse(info.stdout);
        Assert.Equal("q8_0", doc.RootElement.GetProperty("info").GetProperty("weight_type").GetString());
        // One naming style (snake_case) and lists where lists belong, in both JSON outputs.
        Assert.True(doc.RootElement.GetProperty("tensors").GetArrayLength() > 0);
        AssertSnakeCase(doc.RootElement);
        var bench = Dino("bench", "-m", q, "--runs", "2", "--json");
        Assert.Equal(0, bench.code);
        using var b = JsonDocument.Parse(bench.stdout);
        Assert.True(b.RootElement.GetProperty("median_ms_per_image").GetDouble() > 0);
        Assert.True(b.RootElement.GetProperty("min_ms_per_image").GetDouble() > 0);
        AssertSnakeCase(b.RootElement);
        Assert.True(b.RootElement.GetProperty("peak_rss_mb").GetDouble() > 0);

        // --profile: each kind of op, the rest and the total, with the CPU's peak measured in the same run.
        var prof = Dino("bench", "-m", q, "--runs", "2", "--json", "--profile");
        Assert.Equal(0, prof.code);
        using var pj = JsonDocument.Parse(prof.stdout);
        var profile = pj.RootElement.GetProperty("profile");
        var kinds = profile.GetProperty("kinds").EnumerateArray().Select(k => k.GetProperty("name").GetString()).ToList();
        Assert.Equal(new[] { "qkv", "attention", "proj", "fc1", "fc2", "rest", "total" }, kinds);
        Assert.True(profile.GetProperty("peak_f32_gops").GetDouble() > 0);
        Assert.True(profile.GetProperty("peak_bf16_gops").GetDouble() >= 0);  // 0 without AVX512_BF16
        Assert.Equal(2, profile.GetProperty("blocks").GetArrayLength());
        var text = Dino("bench", "-m", q, "--runs", "2", "--profile");
        Assert.Contains("of peak", text.stdout);
        Assert.Contains("per block: 0:", text.stdout);
        // --weights-7bit: the load rounds the q8_0 weights, and the kernels line says so (where the kernels run).
        var seven = Dino("bench", "-m", q, "--runs", "1", "--json", "--weights-7bit");
        Assert.Equal(0, seven.code);
        using var sj = JsonDocument.Parse(seven.stdout);
        string kernels = sj.RootElement.GetProperty("kernels").GetString()!;
        if (!kernels.StartsWith("linear ggml", StringComparison.Ordinal)) Assert.Contains("(7-bit weights)", kernels);
    }

    [Fact]
    public void ThreadsZeroMeansTheCoresThisProcessMayUse()
    {
        // Under taskset -c 0 the process may use one core: "all" is 1, reported and run, probe included.
        string q = TestData.Data("tiny-dino-q8_0.gguf");
        var (code, stdout, _) = DinoUnder(new Dictionary<string, string>(), new[] { "taskset", "-c", "0" },
                                          "bench", "-m", q, "--threads", "0", "--runs", "1", "--json", "--profile");
        Assert.Equal(0, code);
        using var doc = JsonDocument.Parse(stdout);
        Assert.Equal(1, doc.RootElement.GetProperty("threads").GetInt32());
    }

    [Fact]
    public void InfoTakesTheModelAsAnArgumentOrAsMinusM()
    {
        string f32 = TestData.Data("tiny-hf-f32.gguf");
        var plain = Dino("info", f32);
        var withM = Dino("info", "-m", f32);
        Assert.Equal(0, withM.code);
        Assert.Equal(plain.stdout, withM.stdout);
        var both = Dino("info", f32, "-m", f32);
        Assert.Equal(2, both.code);
        Assert.Contains("not both", both.stderr);
        var none = Dino("info");
        Assert.Equal(2, none.code);
        Assert.Contains("-m MODEL", none.stderr);
        // A file dino quantize did not make says nothing about quantization: absent, not "".
        using var doc = JsonDocument.Parse(Dino("info", f32, "--json").stdout);
        Assert.False(doc.RootElement.GetProperty("info").TryGetProperty("quantization", out _));
    }

    [Fact]
    public void HelpForACommandThatDoesNotExistIsAUsageError()
    {
        var (code, _, err) = Dino("nosuch", "--help");
        Assert.Equal(2, code);
        Assert.Contains("nosuch", err);
    }

    [Fact]
    public void SmallUsageErrorsSayWhatToDo()
    {
        string f32 = TestData.Data("tiny-hf-f32.gguf"), png = TestData.Image("rgb.png");
        // The model given as the first argument, as `dino info` takes it: the hint names -m.
        var noM = Dino("embed", f32, png);
        Assert.Equal(2, noM.code);
        Assert.Contains("dino embed -m MODEL.gguf", noM.stderr);
        // preprocess writes .npy: not into a file named .png.
        var png_out = Path.Combine(_dir, "p.png");
        var wrongName = Dino("preprocess", "-m", f32, png, "-o", png_out);
        Assert.Equal(2, wrongName.code);
        Assert.Contains("ends in .npy", wrongName.stderr);
        Assert.False(File.Exists(png_out));
        // A missing output folder is a usage error for every command.
        string missing = Path.Combine(_dir, "no", "such");
        Assert.Equal(2, Dino("embed", "-m", f32, png, "-o", Path.Combine(missing, "e.npy")).code);
        Assert.Equal(2, Dino("quantize", f32, Path.Combine(missing, "q.gguf"), "--type", "q8_0").code);
    }

    [Fact]
    public void StandardOutputAsTheOutputFileWorksThroughAPipeAndAppends()
    {
        if (OperatingSystem.IsWindows()) return;
        string f32 = TestData.Data("tiny-hf-f32.gguf"), png = TestData.Image("rgb.png");
        // Into a pipe (this test reads the process's stdout through one): JSON lines, nothing renamed.
        var piped = Dino("embed", "-m", f32, png, "-o", "/dev/stdout");
        Assert.Equal(0, piped.code);
        Assert.Contains("\"embedding\"", piped.stdout);
        // Appended by the shell (>> file): the earlier lines stay, the new one follows.
        string file = Path.Combine(_dir, "appended.jsonl");
        File.WriteAllText(file, "first line\n");
        var psi = new ProcessStartInfo("sh") { RedirectStandardError = true, WorkingDirectory = _dir };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add("exec dotnet \"$0\" embed -m \"$1\" \"$2\" -o /dev/stdout >> \"$3\"");
        foreach (string a in new[] { CliPath(), f32, png, file }) psi.ArgumentList.Add(a);
        using (var p = Process.Start(psi)!)
        {
            string err = p.StandardError.ReadToEnd();
            p.WaitForExit();
            Assert.True(p.ExitCode == 0, err);
        }
        var lines = File.ReadAllLines(file);
        Assert.Equal(2, lines.Length);
        Assert.Equal("first line", lines[0]);
        Assert.Contains("\"embedding\"", lines[1]);
        // .npy writes its row count last: not into a stream it cannot seek.
        Assert.Equal(2, Dino("embed", "-m", f32, png, "-o", "/dev/stdout", "--format", "npy").code);
    }

    [Fact]
    public void NoCommandWritesOverItsInput()
    {
        // The same path, a symbolic link and a hard link to the input: each refused before anything is
        // computed (exit 2), and the input intact.
        string f32 = Path.Combine(_dir, "in.gguf"), png = Path.Combine(_dir, "in.png"), npy = Path.Combine(_dir, "in.npy");
        File.Copy(TestData.Data("tiny-hf-f32.gguf"), f32);
        File.Copy(TestData.Image("rgb.png"), png);
        Assert.Equal(0, Dino("preprocess", "-m", f32, png, "-o", npy).code);
        var before = new[] { f32, png, npy }.ToDictionary(f => f, File.ReadAllBytes);
        string Link(string target, string name, bool hard)
        {
            string link = Path.Combine(_dir, name);
            if (hard)
            {
                using var ln = Process.Start("ln", new[] { target, link })!;
                ln.WaitForExit();
                Assert.Equal(0, ln.ExitCode);
            }
            else
            {
                File.CreateSymbolicLink(link, target);
            }
            return link;
        }
        var cases = new List<string[]>
        {
            new[] { "quantize", f32, Link(f32, "q-link.gguf", false), "--type", "q8_0" },
            new[] { "embed", "-m", f32, npy, "-o", npy },
            new[] { "embed", "-m", f32, png, "-o", Link(png, "e-link.jsonl", false) },
            new[] { "attention", "-m", f32, png, "-o", Link(png, "a-link.png", false) },
            new[] { "preprocess", "-m", f32, png, "-o", Link(png, "p-link.npy", false) },
        };
        if (!OperatingSystem.IsWindows())
        {
            cases.Add(new[] { "quantize", f32, Link(f32, "q-hard.gguf", true), "--type", "q8_0" });
            cases.Add(new[] { "embed", "-m", f32, png, "-o", Link(png, "e-hard.jsonl", true) });
        }
        foreach (var args in cases)
        {
            var (code, _, err) = Dino(args);
            Assert.True(code == 2, $"{string.Join(' ', args)}: exit {code}\n{err}");
            Assert.Contains("the output must be another file", err);
        }
        foreach (var (file, bytes) in before) Assert.Equal(bytes, File.ReadAllBytes(file));
    }

    [Fact]
    public void NotANumberIsNotAnAttentionMass()
    {
        var (code, _, err) = Dino("attention", "-m", TestData.Data("tiny-hf-f32.gguf"), TestData.Image("rgb.png"), "-o", Path.Combine(_dir, "a.png"), "--mass", "NaN");
        Assert.Equal(2, code);
        Assert.Contains("--mass must be in (0, 1]", err);
        // A size the engine cannot compute: refused before the resize allocates it.
        var huge = Dino("embed", "-m", TestData.Data("tiny-hf-f32.gguf"), TestData.Image("rgb.png"), "--size", "16384");
        Assert.Equal(2, huge.code);
        Assert.Contains("--size is at most 8192", huge.stderr);
    }

    [Fact]
    public void SimilarReadsUntrustedIndexesWithinBoundsAndRanksOnlyNumbers()
    {
        string png = TestData.Image("rgb.png");
        // Take the query's own embedding, to build rows with known cosines.
        var (_, json, _) = Dino("embed", "-m", Model, png);
        float[] q;
        using (var doc = JsonDocument.Parse(json)) q = doc.RootElement.GetProperty("embedding").EnumerateArray().Select(x => x.GetSingle()).ToArray();
        string Row(string label, IEnumerable<float> v) =>
            $"\"{label}\"," + string.Join(",", v.Select(x => x.ToString("R", CultureInfo.InvariantCulture)));
        // Ranked by cosine, a zero row at 0 (DinoEmbedding.CosineSimilarity's value for it), between the others.
        string csv = Path.Combine(_dir, "ranks.csv");
        File.WriteAllLines(csv, new[] { Row("zero", new float[q.Length]), Row("opposite", q.Select(x => -x)), Row("same", q) });
        var (code, stdout, err) = Dino("similar", "-m", Model, png, csv, "-k", "3");
        Assert.True(code == 0, err);
        var order = stdout.Trim().Split('\n').Skip(1).Select(l => l.Split('\t')[2]).ToArray();
        Assert.Equal(new[] { "same", "zero", "opposite" }, order);
        // Rows with a value that is not finite are refused, not ranked.
        File.WriteAllLines(csv, new[] { Row("same", q), Row("bad", q.Select((x, i) => i == 3 ? float.NaN : x)) });
        var nan = Dino("similar", "-m", Model, png, csv);
        Assert.Equal(1, nan.code);
        Assert.Contains("not a finite number", nan.stderr);
        // A JSON-lines file of one enormous line is refused at the line's bound, not read whole.
        string jsonl = Path.Combine(_dir, "one-line.jsonl");
        using (var f = File.Create(jsonl))
        {
            var chunk = System.Text.Encoding.ASCII.GetBytes(new string('x', 1 << 20));
            for (int i = 0; i < 65; i++) f.Write(chunk);
        }
        var longLine = Dino("similar", "-m", Model, png, jsonl);
        Assert.Equal(1, longLine.code);
        Assert.Contains("a line longer than 64 M characters", longLine.stderr);
    }

    [Fact]
    public void MoreThreadsThanCoresRunWithAWarning()
    {
        int many = Environment.ProcessorCount + 1;
        var (code, _, err) = Dino("embed", "-m", TestData.Data("tiny-hf-f32.gguf"), TestData.Image("rgb.png"), "--threads", many.ToString(CultureInfo.InvariantCulture));
        Assert.Equal(0, code);
        Assert.Contains($"warning: --threads {many} is more than the {Environment.ProcessorCount} cores", err);
        Assert.DoesNotContain("warning", Dino("embed", "-m", TestData.Data("tiny-hf-f32.gguf"), TestData.Image("rgb.png")).stderr);
    }

    [Fact]
    public void AnUnknownKernelBuildIsRefusedWithTheValidOnes()
    {
        var (code, _, err) = DinoWith(new Dictionary<string, string> { ["DINO_KERNELS"] = "bogus\u001b[31m" }, "info", TestData.Data("tiny-hf-f32.gguf"));
        Assert.NotEqual(0, code);
        Assert.Contains("DINO_KERNELS='bogus?[31m' is not a build", err);
        Assert.Contains("ggml, ", err);
        Assert.DoesNotContain("bogus\u001b", err, StringComparison.Ordinal);  // (culture comparison ignores control characters)
    }

    [Fact]
    public void QuantizeCalibratesForATarget()
    {
        string f32 = TestData.Data("tiny-hf-f32.gguf"), mix = Path.Combine(_dir, "mix.gguf");
        // A target needs images to measure on: a usage error, before anything is read.
        var (uc, _, uerr) = Dino("quantize", f32, mix, "--target-cos", "0.99");
        Assert.Equal(2, uc);
        Assert.Contains("need --calibrate", uerr);
        Assert.Equal(2, Dino("quantize", f32, mix, "--calibrate", TestData.Image(""), "--target-cos", "1.5").code);
        Assert.Equal(2, Dino("quantize", f32, mix, "--calibrate", TestData.Image(""), "--type", "q4_1", "--target-cos", "0.99").code);
        Assert.False(File.Exists(mix));

        var (code, stdout, stderr) = Dino("quantize", f32, mix, "--calibrate", TestData.Image(""), "--target-cos", "0.9999", "--max-mb", "1");
        Assert.Equal(0, code);
        Assert.Contains("calibrating on", stderr);
        Assert.Contains("measuring each layer", stderr);
        Assert.Contains("quantization: linear layers", stdout);
        Assert.Contains("chosen for CLS cosine >= 0.9999, at most 1 MB", stdout);
        Assert.Matches(@"q\d_0 +\d+ layer\(s\)", stdout);
        Assert.Contains("calibration image(s)", stdout);
        var info = Dino("info", mix);
        Assert.Contains("importance matrix from", info.stdout);
    }

    [Fact]
    public void MixedFoldersReadImagesAndSayWhatTheyLeft()
    {
        // A folder as people have them: an image, an ordinary numpy array, a TIFF, a script.
        string d = Path.Combine(_dir, "mixed"), model = TestData.Data("tiny-hf-f32.gguf");
        Directory.CreateDirectory(d);
        File.Copy(TestData.Image("rgb.png"), Path.Combine(d, "a.png"));
        // (a [10] float32 array, written here byte by byte: version 1.0 header padded to 64, then the data)
        string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (10,), }";
        header = header.PadRight(64 - 10 - 1) + "\n";
        byte[] npy = new byte[] { 0x93 }.Concat("NUMPY"u8.ToArray()).Concat(new byte[] { 1, 0, (byte)header.Length, 0 })
            .Concat(System.Text.Encoding.ASCII.GetBytes(header)).Concat(new byte[40]).ToArray();
        File.WriteAllBytes(Path.Combine(d, "scores.npy"), npy);
        File.WriteAllBytes(Path.Combine(d, "scan.tif"), new byte[] { 0x49, 0x49, 0x2A, 0 });
        File.WriteAllText(Path.Combine(d, "_fetchers.py"), "print()");

        var (code, _, err) = Dino("embed", "-m", model, d);
        Assert.Equal(0, code);  // the numpy file is not an image that failed
        Assert.Contains("embedded 1 image(s)", err);
        Assert.Contains("in the folders, 1 .npy, 1 .tif not read (formats not read: only .jpg .jpeg .png .gif .webp .bmp; --npy reads .npy tensors in folders)", err);
        Assert.Contains("1 other file(s) not read (e.g. _fetchers.py)", err);

        // Asked for, the .npy is read, and a bad one says what it is not.
        (code, _, err) = Dino("embed", "-m", model, d, "--npy");
        Assert.Equal(1, code);
        Assert.Contains("scores.npy: not a [3, H, W] or [N, 3, H, W] float32 tensor (its shape is [10])", err);
    }

    [Fact]
    public void KnnAndClassifyVoteOverLabelFolders()
    {
        string model = TestData.Data("tiny-hf-f32.gguf"), train = Path.Combine(_dir, "train"), test = Path.Combine(_dir, "test");
        foreach (var (label, files) in new[] { ("cat", new[] { "rgb.png", "photo.jpg" }), ("dog", new[] { "gray.png", "wide.png" }) })
        {
            Directory.CreateDirectory(Path.Combine(train, label));
            Directory.CreateDirectory(Path.Combine(test, label));
            foreach (string f in files) File.Copy(TestData.Image(f), Path.Combine(train, label, f));
            File.Copy(TestData.Image(files[0]), Path.Combine(test, label, files[0]));  // each test image is also a training one
        }
        // k = 1: every test image's nearest neighbour is itself.
        var (code, stdout, err) = Dino("knn", "-m", model, "--train", train, "--test", test, "-k", "1");
        Assert.True(code == 0, err);
        Assert.Contains("over 4 training example(s) of 2 label(s), 2 test example(s)", stdout);
        Assert.Contains("top-1 100.00 %  (2/2)", stdout);
        // The same from an index that 'dino embed' wrote over the training folder: nothing embedded again.
        string index = Path.Combine(_dir, "train.npy");
        Assert.Equal(0, Dino("embed", "-m", model, train, "-o", index).code);
        Assert.Contains("top-1 100.00 %", Dino("knn", "-m", model, "--train", index, "--test", test, "-k", "1").stdout);

        (code, stdout, err) = Dino("classify", "-m", model, "--train", train, "-k", "1", Path.Combine(test, "dog", "gray.png"));
        Assert.True(code == 0, err);
        Assert.StartsWith("dog\t1.0000\t", stdout);
        (code, stdout, _) = Dino("classify", "-m", model, "--train", train, "--json", Path.Combine(test, "cat"));
        Assert.Equal(0, code);
        using var doc = JsonDocument.Parse(stdout.Trim());
        Assert.Equal(2, doc.RootElement.GetProperty("votes").EnumerateObject().Count());
        Assert.Equal(2, Dino("knn", "-m", model, "--train", train, "--test", test, "-k", "0").code);
    }

    [Fact]
    public void KnnAccuraciesEqualAnIndependentNumpyVote()
    {
        // Three labels over the test images (held out: each image once, in train or in test), k = 3.
        string model = TestData.Data("tiny-hf-f32.gguf"), train = Path.Combine(_dir, "ktrain"), test = Path.Combine(_dir, "ktest");
        string[] images = { "exif-rotated.jpg", "gray.png", "palette.png", "photo.jpg", "rgb.png", "rgba.png", "tiny.png", "wide.png" };
        for (int i = 0; i < images.Length; i++)
        {
            string label = $"l{i % 3}", into = Path.Combine(i < 5 ? train : test, label);
            Directory.CreateDirectory(into);
            File.Copy(TestData.Image(images[i]), Path.Combine(into, images[i]));
            if (i >= 5) File.Copy(TestData.Image(images[(i + 1) % 5]), Path.Combine(into, "again-" + images[(i + 1) % 5]));
        }
        string trainNpy = Path.Combine(_dir, "ktrain.npy"), testNpy = Path.Combine(_dir, "ktest.npy");
        Assert.Equal(0, Dino("embed", "-m", model, train, "-o", trainNpy).code);
        Assert.Equal(0, Dino("embed", "-m", model, test, "-o", testNpy).code);
        var (code, stdout, err) = Dino("knn", "-m", model, "--train", trainNpy, "--test", testNpy, "-k", "3");
        Assert.True(code == 0, err);

        const string vote = """
            import json, os, sys
            import numpy as np
            def load(p):
                a = np.load(p).astype(np.float64)
                paths = [json.loads(l) for l in open(p[:-4] + '.paths.txt')]
                return a / np.linalg.norm(a, axis=1, keepdims=True), [os.path.basename(os.path.dirname(x)) for x in paths]
            tr, trl = load(sys.argv[1]); te, tel = load(sys.argv[2]); k, t = int(sys.argv[3]), 0.07
            classes = sorted(set(trl)); top1 = top5 = 0
            for i, s in enumerate(te @ tr.T):
                score = dict.fromkeys(classes, 0.0)
                for j in np.argsort(-s, kind='stable')[:k]: score[trl[j]] += np.exp(s[j] / t)
                ranked = sorted(classes, key=lambda c: (-score[c], c))
                top1 += ranked[0] == tel[i]; top5 += tel[i] in ranked[:5]
            print(f'({top1}/{len(te)}) ({top5}/{len(te)})')
            """;
        string python = File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
        var psi = new ProcessStartInfo(python, new[] { "-c", vote, trainNpy, testNpy, "3" }) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        string[] want = p.StandardOutput.ReadToEnd().Trim().Split(' ');
        string perr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, perr);
        Assert.Contains($"top-1 ", stdout);
        Assert.Contains($"%  {want[0]}", stdout);
        Assert.Contains($"%  {want[1]}", stdout);
    }

    [Fact]
    public void InfoNamesTheNativeFilesAndAnotherGgmlLoadedFirst()
    {
        string model = TestData.Data("tiny-hf-f32.gguf");
        var (code, stdout, _) = Dino("info", model);
        Assert.Equal(0, code);
        string native = stdout.Split('\n').Single(l => l.StartsWith("native", StringComparison.Ordinal));
        Assert.Contains("with ggml from", native);
        Assert.DoesNotContain("before ours", native);
        if (!OperatingSystem.IsLinux()) return;
        // Another libggml-base in the process first (as a library that bundles its own ggml would load it):
        // the system loader binds that one by its name, and info says so instead of naming our folder alone.
        string other = Path.Combine(_dir, "other");
        Directory.CreateDirectory(other);
        string ours = native.Split("with ggml from ")[1].Split(';')[0].Trim();
        string baseLib = File.Exists(Path.Combine(ours, "libggml-base.so")) ? Path.Combine(ours, "libggml-base.so")
            : Path.Combine(Path.GetDirectoryName(ours)!, "libggml-base.so");
        File.Copy(baseLib, Path.Combine(other, "libggml-base.so"));
        var preloaded = DinoWith(new Dictionary<string, string> { ["LD_PRELOAD"] = Path.Combine(other, "libggml-base.so") }, "info", model);
        Assert.Equal(0, preloaded.code);
        Assert.Contains($"but ggml-base is {Path.Combine(other, "libggml-base.so")}, loaded into this process before ours", preloaded.stdout);
    }

    [Fact]
    public void CalibrationTakesAnEvenSpreadOfAFolderNotAllOfIt()
    {
        // 400 tiny PNGs (one read fails): only --calibrate-max of them are decoded and held.
        string folder = Path.Combine(_dir, "many");
        Directory.CreateDirectory(folder);
        byte[] png = File.ReadAllBytes(TestData.Image("rgb.png"));
        for (int i = 0; i < 400; i++) File.WriteAllBytes(Path.Combine(folder, $"img{i:D3}.png"), png);
        string f32 = TestData.Data("tiny-hf-f32.gguf"), q = Path.Combine(_dir, "q.gguf");
        var (code, _, err) = Dino("quantize", f32, q, "--type", "q4_0", "--calibrate", folder, "--calibrate-max", "5");
        Assert.Equal(0, code);
        Assert.Contains("calibrating on 5 of 400 images, spread evenly over them", err);
        Assert.Contains("importance matrix from 5 image(s)", Dino("info", q).stdout);
        Assert.Equal(2, Dino("quantize", f32, q, "--type", "q4_0", "--calibrate", folder, "--calibrate-max", "0").code);
        Assert.Equal(2, Dino("quantize", f32, q, "--type", "q4_0", "--calibrate", folder, "--calibrate-max", "257").code);
    }

    private static void AssertSnakeCase(JsonElement e)
    {
        if (e.ValueKind == JsonValueKind.Object)
        {
            foreach (var p in e.EnumerateObject())
            {
                Assert.Matches("^[a-z0-9_]+$", p.Name);
                Assert.NotEqual(JsonValueKind.Null, p.Value.ValueKind);
                AssertSnakeCase(p.Value);
            }
        }
        else if (e.ValueKind == JsonValueKind.Array)
        {
            foreach (var x in e.EnumerateArray()) AssertSnakeCase(x);
        }
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
        // A misspelt option is a usage error that names it, for every command (not "no such file").
        foreach (string[] a in new[]
        {
            new[] { "embed", "--nomalize", "-m", Model, TestData.Image("rgb.png") },
            new[] { "similar", "-m", Model, "--topk", "3", TestData.Image("rgb.png"), TestData.Image("rgb.png") },
            new[] { "attention", "-m", Model, TestData.Image("rgb.png"), "-o", Path.Combine(_dir, "a.png"), "--heads" },
            new[] { "info", "--jsn", Model },
            new[] { "quantize", Model, Path.Combine(_dir, "q.gguf"), "--tpye", "q8_0" },
        })
        {
            var (code, _, err) = Dino(a);
            Assert.True(code == 2, $"dino {string.Join(' ', a)}: exit {code}: {err}");
            Assert.Contains($"unknown option '{a.First(x => x.StartsWith("--") && x != "--help")}'", err);
        }
        // Messages in the user's terms, not .NET's.
        var (tc, _, terr) = Dino("embed", "-m", Model, "--threads", "abc", TestData.Image("rgb.png"));
        Assert.Equal(2, tc);
        Assert.Contains("as a whole number", terr);
        Assert.DoesNotContain("System.", terr);
        var (qc, _, qerr) = Dino("quantize", Model, Path.Combine(_dir, "q9.gguf"), "--type", "q9");
        Assert.Equal(2, qc);
        Assert.DoesNotContain("(Parameter", qerr);
        // After '--', a word that begins with '-' is a path; negative numbers stay values.
        string dashed = Path.Combine(_dir, "-dashed.png");
        File.Copy(TestData.Image("rgb.png"), dashed, overwrite: true);
        Assert.Equal(0, Dino("embed", "-m", Model, "--", dashed).code);
        Assert.Contains("-k must be 1 or more", Dino("similar", "-m", Model, "-k", "-3", TestData.Image("rgb.png"), TestData.Image("rgb.png")).stderr);
        // An output that is a folder is refused before anything is computed.
        var (dc, _, derr) = Dino("embed", "-m", Model, TestData.Image("rgb.png"), "-o", _dir);
        Assert.Equal(2, dc);
        Assert.Contains("is a folder, not a file", derr);
        // An output whose extension names no format is asked about before anything is computed.
        var (xc, _, xerr) = Dino("embed", "-m", Model, TestData.Image("rgb.png"), "-o", Path.Combine(_dir, "x.npz"));
        Assert.Equal(2, xc);
        Assert.Contains("'.npz' says no format", xerr);
        Assert.False(File.Exists(Path.Combine(_dir, "x.npz")));
        Assert.Equal(0, Dino("embed", "-m", Model, TestData.Image("rgb.png"), "-o", Path.Combine(_dir, "x.npz"), "--format", "npy").code);
        Assert.Equal(2, Dino("attention", "-m", Model, TestData.Image("rgb.png"), "-o", Path.Combine(_dir, "a.jpg")).code);

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

    private static bool IsCharacterDevice(string path)
    {
        using var p = Process.Start("test", new[] { "-c", path })!;
        p.WaitForExit();
        return p.ExitCode == 0;
    }

    private static void MakeFifo(string path)
    {
        using var p = Process.Start("mkfifo", new[] { path })!;
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
    }

    [Fact]
    public void FoldersWithFifosLinkLoopsAndOddNamesFinishAndCountTheirFailures()
    {
        string photos = Path.Combine(_dir, "odd");
        Directory.CreateDirectory(Path.Combine(photos, "sub"));
        File.Copy(TestData.Image("rgb.png"), Path.Combine(photos, "a.png"));
        File.Copy(TestData.Image("tiny.png"), Path.Combine(photos, "sub", "b.png"));
        File.Copy(TestData.Image("rgb.png"), Path.Combine(photos, "new\nline.png"));
        MakeFifo(Path.Combine(photos, "pipe.jpg"));
        MakeFifo(Path.Combine(photos, "pipe.npy"));
        Directory.CreateSymbolicLink(Path.Combine(photos, "sub", "up"), "..");      // a loop back to the parent
        Directory.CreateSymbolicLink(Path.Combine(photos, "sub", "again"), "../sub");
        // A name that is not UTF-8 (0xFF), made through the shell: .NET cannot spell it.
        using (var sh = Process.Start("sh", new[] { "-c", $"cp '{TestData.Image("rgb.png")}' \"$(printf '{photos}/bad\\377.png')\"" })!) sh.WaitForExit();

        string npy = Path.Combine(_dir, "odd.npy");
        var clock = Stopwatch.StartNew();
        var (code, _, err) = Dino("embed", "-m", TestData.Data("tiny-hf-f32.gguf"), photos, "-o", npy, "--npy");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), "the folder took " + clock.Elapsed);
        Assert.Equal(1, code);
        Assert.Contains("pipe.jpg: not a regular file", err);
        Assert.Contains("pipe.npy: not a regular file", err);
        Assert.Contains("not valid UTF-8", err);
        Assert.Contains("a link to a folder, not followed", err);
        Assert.Contains("3 failed", err);

        // Each image once; the newline stays inside its label, and similar reads the index back.
        string[] labels = File.ReadAllLines(Path.Combine(_dir, "odd.paths.txt")).Select(l => JsonSerializer.Deserialize<string>(l)!).ToArray();
        Assert.Equal(new[] { "a.png", "new\nline.png", "sub/b.png" }, labels.Select(l => Path.GetRelativePath(photos, l)).ToArray());
        Assert.Equal(new[] { 3, 64 }, TestData.ReadNpy(npy).shape);
        var (sc, sout, _) = Dino("similar", "-m", TestData.Data("tiny-hf-f32.gguf"), TestData.Image("rgb.png"), npy, "-k", "3");
        Assert.Equal(0, sc);
        Assert.Contains("new\\nline.png", sout);  // escaped in the table, so each result stays one line

        // A FIFO as the model or as a .npy input is refused at once, never waited on.
        string fifoModel = Path.Combine(_dir, "model.gguf");
        MakeFifo(fifoModel);
        var (mc, _, merr) = Dino("embed", "-m", fifoModel, TestData.Image("rgb.png"));
        Assert.Equal(3, mc);
        Assert.Contains("not a regular file", merr);
    }

    [Fact]
    public void APngTextBombInAFolderFailsAloneUnderATightHeapLimit()
    {
        string dir = Path.Combine(_dir, "bomb");
        Directory.CreateDirectory(dir);
        File.WriteAllBytes(Path.Combine(dir, "b-bomb.png"), HostileImageTests.PngTextBomb());
        File.Copy(TestData.Image("rgb.png"), Path.Combine(dir, "a.png"));
        File.Copy(TestData.Image("photo.jpg"), Path.Combine(dir, "c.jpg"));
        var clock = Stopwatch.StartNew();
        var (code, stdout, err) = DinoWith(new() { ["DOTNET_GCHeapHardLimit"] = "0x40000000" }, "embed", "-m", TestData.Data("tiny-hf-f32.gguf"), dir);
        output.WriteLine($"{clock.ElapsedMilliseconds} ms");
        Assert.Equal(1, code);
        Assert.Contains("decompression bomb", err);
        Assert.Contains("1 failed", err);
        Assert.Equal(2, stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
    }

    [Fact]
    public void MalformedNpyInputsFailAloneAndTheirBatchMatesAreComputed()
    {
        string dir = Path.Combine(_dir, "tensors");
        Directory.CreateDirectory(dir);
        void Npy(string name, string header, int floats)
        {
            string h = header.PadRight(118) + "\n";
            var bytes = new byte[] { 0x93 }.Concat("NUMPY"u8.ToArray()).Concat(new byte[] { 1, 0, (byte)h.Length, 0 })
                .Concat(System.Text.Encoding.ASCII.GetBytes(h)).Concat(new byte[floats * 4]).ToArray();
            File.WriteAllBytes(Path.Combine(dir, name), bytes);
        }
        Npy("a-huge.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4), }", 16);
        Npy("b-word.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (abc, 4), }", 16);
        Npy("c-noshape.npy", "{'descr': '<f4', 'fortran_order': False, }", 16);
        Npy("d-good.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 32, 32), }", 3 * 32 * 32);
        Npy("e-oddsize.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 30, 30), }", 3 * 30 * 30);
        Npy("f-good.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 16, 16), }", 3 * 16 * 16);
        var (code, stdout, err) = Dino("embed", "-m", TestData.Data("tiny-hf-f32.gguf"), dir, "--batch", "8", "--npy");
        Assert.Equal(1, code);
        Assert.Contains("4 failed", err);
        Assert.DoesNotContain("Unhandled", err);
        var rows = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(new[] { "d-good.npy", "f-good.npy" }, rows.Select(r => Path.GetFileName(JsonDocument.Parse(r).RootElement.GetProperty("path").GetString()!)).ToArray());
    }

    [Fact]
    public void OutputsNeverReplaceDevicesLinksOrPlantedFiles()
    {
        string tiny = TestData.Data("tiny-hf-f32.gguf"), image = TestData.Image("rgb.png");
        // A device is written straight to: /dev/full reports its error, /dev/null stays the device.
        var (fc, _, ferr) = Dino("embed", "-m", tiny, image, "-o", "/dev/full", "--format", "jsonl");
        Assert.NotEqual(0, fc);
        Assert.Contains("space", ferr, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(0, Dino("embed", "-m", tiny, image, "-o", "/dev/null", "--format", "jsonl").code);
        Assert.True(IsCharacterDevice("/dev/null"), "/dev/null was replaced");

        // A link is written through: the file it names gets the output, the link stays a link.
        string real = Path.Combine(_dir, "real.jsonl"), link = Path.Combine(_dir, "link.jsonl");
        File.WriteAllText(real, "old");
        File.CreateSymbolicLink(link, real);
        Assert.Equal(0, Dino("embed", "-m", tiny, image, "-o", link).code);
        Assert.NotNull(new FileInfo(link).LinkTarget);
        Assert.StartsWith("{\"path\"", File.ReadAllText(real));

        // Links planted at every name the old code used are never followed.
        string victim = Path.Combine(_dir, "victim.txt");
        File.WriteAllText(victim, "precious");
        string outNpy = Path.Combine(_dir, "out.npy");
        File.CreateSymbolicLink(outNpy + ".tmp", victim);
        string planted = Path.Combine(_dir, ".out.npy.partial");
        File.CreateSymbolicLink(planted, victim);
        Assert.Equal(0, Dino("embed", "-m", tiny, image, "-o", outNpy).code);
        string quantized = Path.Combine(_dir, "q.gguf");
        File.CreateSymbolicLink(quantized + ".tmp", victim);
        Assert.Equal(0, Dino("quantize", tiny, quantized, "--type", "q8_0").code);
        Assert.Equal("precious", File.ReadAllText(victim));
        Assert.Equal(new[] { planted }, Directory.GetFiles(_dir, "*.partial"));

        // dino quantize onto a device is refused by the native writer, which names it.
        var (qc, _, qerr) = Dino("quantize", tiny, "/dev/null", "--type", "q8_0");
        Assert.NotEqual(0, qc);
        Assert.Contains("not a regular file", qerr);
        Assert.True(IsCharacterDevice("/dev/null"), "/dev/null was replaced");
    }

    [Theory]
    [InlineData("INT", 130)]
    [InlineData("TERM", 143)]
    public void SignalsStopTheRunDeleteItsTemporaryFilesAndSetTheExitCode(string signal, int expected)
    {
        string photos = Path.Combine(_dir, "many-" + signal);
        Directory.CreateDirectory(photos);
        for (int i = 0; i < 40; i++) File.Copy(TestData.Image("photo.jpg"), Path.Combine(photos, $"{i:D2}.jpg"));
        string outDir = Path.Combine(_dir, "out-" + signal);
        Directory.CreateDirectory(outDir);
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardError = true, WorkingDirectory = _dir };
        foreach (string a in new[] { CliPath(), "embed", "-m", Model, photos, "-o", Path.Combine(outDir, "e.npy"), "--tokens", "--batch", "1" })
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var err = new System.Text.StringBuilder();
        string? line;
        while ((line = p.StandardError.ReadLine()) != null && !line.Contains("embed:")) err.AppendLine(line);  // work has started
        Assert.NotEmpty(Directory.GetFiles(outDir, "*.partial", SearchOption.TopDirectoryOnly));
        using (var kill = Process.Start("kill", new[] { "-" + signal, p.Id.ToString(System.Globalization.CultureInfo.InvariantCulture) })!) kill.WaitForExit();
        err.Append(p.StandardError.ReadToEnd());
        Assert.True(p.WaitForExit(30_000), "the run did not stop");
        output.WriteLine(err.ToString());
        Assert.Equal(expected, p.ExitCode);
        Assert.Contains("no output was written", err.ToString());
        Assert.Empty(Directory.GetFiles(outDir));
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
        Assert.Contains("'avx9000' (DINO_CPU_VARIANT) is not a CPU variant; the variants are avx512, avx2, avx, noavx", bad.stderr);
        // Shown with its control characters as '?', never echoed for a terminal to act on.
        var escaped = DinoWith(new() { ["DINO_CPU_VARIANT"] = "avx\u001b[31m" }, "info", TestData.Data("tiny-hf-f32.gguf"));
        Assert.Equal(3, escaped.code);
        Assert.Contains("'avx?[31m' (DINO_CPU_VARIANT)", escaped.stderr);
        Assert.DoesNotContain("\u001b", escaped.stderr, StringComparison.Ordinal);
        // A relative DINO_NATIVE_DIR would load whatever the working directory holds: refused.
        var relative = DinoWith(new() { ["DINO_NATIVE_DIR"] = "lib" }, "info", TestData.Data("tiny-hf-f32.gguf"));
        Assert.Equal(3, relative.code);
        Assert.Contains("'lib' (DINO_NATIVE_DIR): not an absolute path", relative.stderr);
        var missing = DinoWith(new() { ["DINO_NATIVE_DIR"] = Path.Combine(_dir, "nowhere") }, "info", TestData.Data("tiny-hf-f32.gguf"));
        Assert.Equal(3, missing.code);
        Assert.Contains("Tried:", missing.stderr);
        Assert.Contains("nowhere", missing.stderr);
    }

    // A folder of small images of random pixels, each different.
    private static void RandomImages(string folder, IEnumerable<string> names, int seed)
    {
        Directory.CreateDirectory(folder);
        var rng = new Random(seed);
        foreach (string name in names)
        {
            using var image = new SixLabors.ImageSharp.Image<SixLabors.ImageSharp.PixelFormats.Rgb24>(24, 20);
            image.ProcessPixelRows(rows =>
            {
                for (int y = 0; y < rows.Height; y++)
                    foreach (ref var p in rows.GetRowSpan(y)) p = new((byte)rng.Next(256), (byte)rng.Next(256), (byte)rng.Next(256));
            });
            SixLabors.ImageSharp.ImageExtensions.SaveAsPng(image, Path.Combine(folder, name));
        }
    }

    private static void AssertSameIndex(string want, string got)
    {
        using var a = DinoEmbeddingIndex.Load(want);
        using var b = DinoEmbeddingIndex.Load(got);
        Assert.Equal(a.Labels, b.Labels);
        for (int r = 0; r < a.Count; r++) Assert.True(a.GetVector(r).SequenceEqual(b.GetVector(r)), $"row {r} ({a.GetLabel(r)}) differs");
    }

    [Fact]
    public void UpdateEmbedsOnlyWhatChangedAndKeepsTheRestBitForBit()
    {
        string model = TestData.Data("tiny-hf-f32.gguf"), photos = Path.Combine(_dir, "grow"), index = Path.Combine(_dir, "grow.npy");
        RandomImages(photos, Enumerable.Range(0, 300).Select(i => $"{i:D3}.png"), seed: 1);
        var first = Dino("embed", "-m", model, photos, "-o", index, "--update", "--size", "32");
        Assert.True(first.code == 0, first.stderr);
        Assert.Contains("300 added, 0 changed, 0 removed, 0 kept; 300 embedded", first.stderr);
        Assert.True(File.Exists(Path.Combine(_dir, "grow.stamps.jsonl")));

        // 5 redrawn, 5 only touched, 5 added, 3 removed: 15 to embed.
        RandomImages(photos, Enumerable.Range(10, 5).Select(i => $"{i:D3}.png"), seed: 2);
        foreach (int i in Enumerable.Range(20, 5)) File.SetLastWriteTimeUtc(Path.Combine(photos, $"{i:D3}.png"), DateTime.UtcNow.AddMinutes(1));
        RandomImages(photos, Enumerable.Range(0, 5).Select(i => $"new{i}.png"), seed: 3);
        foreach (int i in new[] { 0, 150, 299 }) File.Delete(Path.Combine(photos, $"{i:D3}.png"));
        string before = Path.Combine(_dir, "before.npy");
        File.Copy(index, before);
        File.Copy(Path.Combine(_dir, "grow.paths.txt"), Path.Combine(_dir, "before.paths.txt"));

        var second = Dino("embed", "-m", model, photos, "-o", index, "--update", "--size", "32");
        Assert.True(second.code == 0, second.stderr);
        Assert.Contains("updated " + index + " (302 rows): 5 added, 10 changed, 3 removed, 287 kept; 15 embedded", second.stderr);
        // Every kept row is the old one, bit for bit; the whole is what embedding the folder afresh gives.
        using (var old = DinoEmbeddingIndex.Load(before))
        using (var updated = DinoEmbeddingIndex.Load(index))
        {
            var oldRows = Enumerable.Range(0, old.Count).ToDictionary(old.GetLabel, r => old.GetVector(r).ToArray());
            int kept = 0;
            for (int r = 0; r < updated.Count; r++)
            {
                if (!oldRows.TryGetValue(updated.GetLabel(r), out var v) || updated.GetLabel(r).Contains("/01")) continue;
                Assert.Equal(v.Select(BitConverter.SingleToInt32Bits), updated.GetVector(r).ToArray().Select(BitConverter.SingleToInt32Bits));
                kept++;
            }
            Assert.True(kept >= 287, $"{kept} kept rows compared");
        }
        string fresh = Path.Combine(_dir, "fresh.npy");
        Assert.Equal(0, Dino("embed", "-m", model, photos, "-o", fresh, "--size", "32").code);
        AssertSameIndex(fresh, index);

        // Nothing changed: nothing embedded, the same bytes.
        byte[] bytes = File.ReadAllBytes(index);
        var third = Dino("embed", "-m", model, photos, "-o", index, "--update", "--size", "32");
        Assert.Contains("0 added, 0 changed, 0 removed, 302 kept; 0 embedded", third.stderr);
        Assert.Equal(bytes, File.ReadAllBytes(index));

        // Another recipe is refused, not mixed in; the index stays as it was.
        var other = Dino("embed", "-m", model, photos, "-o", index, "--update", "--size", "64");
        Assert.Equal(2, other.code);
        Assert.Contains("Resize = 32", other.stderr);
        Assert.Contains("--update would mix", other.stderr);
        Assert.Equal(bytes, File.ReadAllBytes(index));
        var rounded = Dino("embed", "-m", model, photos, "-o", index, "--update", "--size", "32", "--weights-7bit");
        Assert.Equal(2, rounded.code);
        Assert.Contains("int8_weights (none) (this run: SevenBit)", rounded.stderr);
        Assert.Equal(bytes, File.ReadAllBytes(index));
        Assert.Contains("--update needs the index file", Dino("embed", "-m", model, photos, "--update").stderr);

        // JSON lines and CSV indexes update the same way, bit for bit.
        foreach (string ext in new[] { "jsonl", "csv" })
        {
            string text = Path.Combine(_dir, "grow." + ext);
            Assert.Equal(0, Dino("embed", "-m", model, photos, "-o", text, "--update", "--size", "32").code);
            File.Delete(Path.Combine(photos, "001.png"));
            var upd = Dino("embed", "-m", model, photos, "-o", text, "--update", "--size", "32");
            Assert.Contains("0 added, 0 changed, 1 removed, 301 kept; 0 embedded", upd.stderr);
            RandomImages(photos, new[] { "001.png" }, seed: 4);
            Assert.Contains("1 added", Dino("embed", "-m", model, photos, "-o", text, "--update", "--size", "32").stderr);
            Assert.Equal(0, Dino("embed", "-m", model, photos, "-o", fresh.Replace(".npy", "." + ext), "--size", "32").code);
            Assert.Equal(File.ReadAllText(fresh.Replace(".npy", "." + ext)), File.ReadAllText(text));
        }
    }

    [Fact]
    public void AKilledUpdateLeavesTheOldIndexWholeAndTheNextOneResumes()
    {
        string photos = Path.Combine(_dir, "resume"), index = Path.Combine(_dir, "resume.npy");
        RandomImages(photos, Enumerable.Range(0, 3).Select(i => $"a{i}.png"), seed: 5);
        Assert.Equal(0, Dino("embed", "-m", Model, photos, "-o", index, "--update").code);
        var files = new[] { index, Path.Combine(_dir, "resume.paths.txt"), Path.Combine(_dir, "resume.stamps.jsonl") };
        var before = files.Select(File.ReadAllBytes).ToList();
        RandomImages(photos, Enumerable.Range(0, 12).Select(i => $"b{i:D2}.png"), seed: 6);

        var psi = new ProcessStartInfo("dotnet") { RedirectStandardError = true, WorkingDirectory = _dir };
        foreach (string a in new[] { CliPath(), "embed", "-m", Model, photos, "-o", index, "--update", "--batch", "1" }) psi.ArgumentList.Add(a);
        string journal = index + ".journal";
        using (var p = Process.Start(psi)!)
        {
            _ = p.StandardError.ReadToEndAsync();
            var clock = Stopwatch.StartNew();
            // Killed once two images are in the journal (its first line is the recipe).
            while (!(File.Exists(journal) && File.ReadAllLines(journal).Length >= 3) && !p.HasExited && clock.Elapsed < TimeSpan.FromMinutes(2)) Thread.Sleep(20);
            Assert.False(p.HasExited, "the update ended before it could be killed");
            p.Kill(entireProcessTree: true);
            p.WaitForExit();
        }
        for (int i = 0; i < files.Length; i++) Assert.Equal(before[i], File.ReadAllBytes(files[i]));
        Assert.Empty(Directory.GetFiles(_dir, "*.partial"));

        var (code, _, err) = Dino("embed", "-m", Model, photos, "-o", index, "--update");
        Assert.True(code == 0, err);
        Assert.Matches(@"12 added, 0 changed, 0 removed, 3 kept; \d+ embedded .*, \d+ taken from the interrupted run's journal", err);
        Assert.False(File.Exists(journal));
        string fresh = Path.Combine(_dir, "resume-fresh.npy");
        Assert.Equal(0, Dino("embed", "-m", Model, photos, "-o", fresh).code);
        AssertSameIndex(fresh, index);
    }

    [Fact]
    public void UpdateSurvivesWhatOthersDoToItsFiles()
    {
        string model = TestData.Data("tiny-hf-f32.gguf"), photos = Path.Combine(_dir, "others"), index = Path.Combine(_dir, "others.npy");
        string stamps = Path.Combine(_dir, "others.stamps.jsonl"), journal = index + ".journal";
        RandomImages(photos, Enumerable.Range(0, 6).Select(i => $"{i}.png"), seed: 7);
        string[] run = { "embed", "-m", model, photos, "-o", index, "--update", "--size", "32" };
        Assert.Equal(0, Dino(run).code);
        string fresh = Path.Combine(_dir, "others-fresh.npy");
        Assert.Equal(0, Dino("embed", "-m", model, photos, "-o", fresh, "--size", "32").code);

        // A journal with junk and a line cut short (a kill mid-write) is read for what it holds, then goes.
        File.WriteAllText(journal, File.ReadLines(stamps).First() + "\nnot json\n{\"file\": \"x\", \"length\": 1, \"rows\": [{\"label\"");
        var (code, _, err) = Dino(run);
        Assert.True(code == 0, err);
        Assert.Contains("0 added, 0 changed, 0 removed, 6 kept", err);
        Assert.False(File.Exists(journal));

        // A row changed by another program no longer matches its stamp: that image is embedded again.
        byte[] bytes = File.ReadAllBytes(index);
        bytes[^4] ^= 0x01;  // the last value's lowest mantissa bit
        File.WriteAllBytes(index, bytes);
        (code, _, err) = Dino(run);
        Assert.True(code == 0, err);
        Assert.Contains("1 row(s) of " + index + " do not match their stamps", err);
        Assert.Contains("; 1 embedded", err);
        AssertSameIndex(fresh, index);

        // Stamps that are not stamps: an error that says what to do, the index untouched.
        byte[] before = File.ReadAllBytes(index);
        File.WriteAllText(stamps, File.ReadLines(stamps).First() + "\n{broken\n");
        (code, _, err) = Dino(run);
        Assert.Equal(1, code);
        Assert.Contains("delete it to embed everything again", err);
        Assert.Equal(before, File.ReadAllBytes(index));

        // No stamps at all (an index written without --update): everything is embedded again, and said so.
        File.Delete(stamps);
        (code, _, err) = Dino(run);
        Assert.True(code == 0, err);
        Assert.Contains("has no stamps", err);
        Assert.Contains("6 added, 0 changed, 0 removed, 0 kept; 6 embedded", err);
        AssertSameIndex(fresh, index);
    }
}
