// bench: our engine against ONNX Runtime (and PyTorch), timed side by side in one run.
// Run it with bench/run.sh, which makes the models first.
//
// Every timing is a fresh process of this program holding one model (--probe): one engine's
// threads (ONNX Runtime's spinning pool, ggml's) never take the cores the next one needs, and each
// runs as a standalone program of its own would.  The variants alternate, round after round.
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Dino;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

const int ProbeRuns = 3;  // timed runs per probe process, after its warm-up
Options opts;
try { opts = Options.Parse(args); }
catch (OptionsException e) { Console.Error.WriteLine($"bench: {e.Message}\n{Options.Usage}"); return 2; }
if (opts.Probe != null) return Probe(opts);

var variants = new List<Variant>();
// "q8_0-7bit": the q8_0 file loaded with Int8Weights.SevenBit.
foreach (string t in opts.Types)
    variants.Add(new Variant($"dino {t}", Path.Combine(opts.Data, $"dino-{Variant.FileType(t)}.gguf"), false, t.EndsWith(Variant.SevenBit)));
// DINOv2 ViT-S/14 on the same 224 x 224 input: 257 tokens to ViT-S/8's 785 (its CLS is another model's).
foreach (string t in opts.Dinov2Types) variants.Add(new Variant($"dinov2-s14 {t}", Path.Combine(opts.Data, $"dinov2-s14-{t}.gguf"), false));
variants.Add(new Variant("ort fp32", Path.Combine(opts.Data, "dino-fp32.onnx"), true));
variants.Add(new Variant("ort int8", Path.Combine(opts.Data, "dino-int8.onnx"), true));
foreach (var v in variants)
    if (!File.Exists(v.Path)) { Console.Error.WriteLine($"bench: missing {v.Path} (run bench/run.sh)"); return 2; }

var report = new StringBuilder();
report.AppendLine($"CPU: {Cpu.Describe()}");
report.AppendLine($"Machine: {Environment.ProcessorCount} cores, {DinoNativeLibrary.SupportedCpuVariants[0]} ggml; {DinoNativeLibrary.Version}; ONNX Runtime {OrtEnv.Instance().GetVersionString()}");
report.AppendLine("Kernels: " + string.Join("; ", variants.Where(v => !v.Onnx).Select(v =>
{
    using var m = DinoModel.Load(v.Path, v.LoadOptions(0));
    return $"{v.Name} {m.Info.Kernels}";
})));
report.AppendLine($"Medians of {opts.Rounds} rounds, variants alternating within each round, each variant in a process of its own (load, one warm-up, then the median of {ProbeRuns} runs); ms per image; ratio = ORT fp32 ms / variant ms (> 1 is faster than ORT fp32).");
report.AppendLine();
report.AppendLine("| variant | batch | threads | ms/image | spread | vs ORT fp32 | vs ORT int8 | CLS cosine vs ORT fp32 | peak RSS MB |");
report.AppendLine("|---|---|---|---|---|---|---|---|---|");
var speedups = new List<string>();  // DINOv2 ViT-S/14 against DINO ViT-S/8 of the same type

foreach (int threads in opts.Threads)
{
    foreach (int batch in opts.Batches)
    {
        var times = variants.Select(_ => new List<double>()).ToList();
        var cls = new float[variants.Count][];
        var rss = new long[variants.Count];
        for (int round = 0; round < opts.Rounds; round++)
        {
            for (int k = 0; k < variants.Count; k++)
            {
                int i = (k + round) % variants.Count;  // rotate who goes first
                var r = RunProbe(variants[i], batch, threads);
                times[i].Add(r.Median);
                cls[i] ??= r.Cls;
                rss[i] = Math.Max(rss[i], r.Rss);
            }
            Console.Error.Write($"\rbatch {batch}, {threads} thread(s): round {round + 1}/{opts.Rounds}   ");
        }
        Console.Error.WriteLine();
        int ortFp32 = variants.FindIndex(v => v.Name == "ort fp32"), ortInt8 = variants.FindIndex(v => v.Name == "ort int8");
        double Median(List<double> x) { var s = x.Order().ToList(); return s.Count % 2 == 1 ? s[s.Count / 2] : (s[s.Count / 2 - 1] + s[s.Count / 2]) / 2; }
        for (int i = 0; i < variants.Count; i++)
        {
            double m = Median(times[i]);
            bool v2 = variants[i].Name.StartsWith("dinov2", StringComparison.Ordinal);
            string cos = v2 ? "(another model)" : Enumerable.Range(0, batch).Min(b => DinoEmbedding.CosineSimilarity(cls[i].AsSpan(b * 384, 384), cls[ortFp32].AsSpan(b * 384, 384))).ToString("F6", CultureInfo.InvariantCulture);
            // ONNX Runtime runs ViT-S/8: a DINOv2 row's ratios to it would compare two models.
            string Ratio(int peer) => v2 ? "-" : (Median(times[peer]) / m).ToString("F2", CultureInfo.InvariantCulture);
            report.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {variants[i].Name} | {batch} | {threads} | {m:F0} | {times[i].Min():F0}-{times[i].Max():F0} | {Ratio(ortFp32)} | {Ratio(ortInt8)} | {cos} | {rss[i] / 1e6:F0} |"));
            int s8 = variants.FindIndex(x => x.Name == "dino " + variants[i].Name.Split(' ')[1]);
            if (v2 && s8 >= 0)
                speedups.Add(string.Create(CultureInfo.InvariantCulture,
                    $"- {variants[i].Name.Split(' ')[1]}, batch {batch}, {threads} thread(s): DINOv2 ViT-S/14 {m:F0} ms, DINO ViT-S/8 {Median(times[s8]):F0} ms per image: {Median(times[s8]) / m:F2}x faster"));
        }
    }
}
if (speedups.Count > 0)
{
    report.AppendLine();
    report.AppendLine("DINOv2 ViT-S/14 against DINO ViT-S/8, both at 224 (257 tokens against 785):");
    report.AppendLine();
    foreach (string s in speedups) report.AppendLine(s);
}
if (opts.Torch != null)
{
    report.AppendLine();
    report.AppendLine("PyTorch (same weights, tests/reference implementation, run after the above):");
    report.AppendLine();
    report.AppendLine("| batch | threads | ms/image | spread |");
    report.AppendLine("|---|---|---|---|");
    foreach (string line in RunTorch(opts))
    {
        using var d = JsonDocument.Parse(line);
        var r = d.RootElement;
        report.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"| {r.GetProperty("batch").GetInt32()} | {r.GetProperty("threads").GetInt32()} | {r.GetProperty("median").GetDouble():F0} | {r.GetProperty("min").GetDouble():F0}-{r.GetProperty("max").GetDouble():F0} |"));
    }
}
Console.WriteLine(report);
if (opts.Output != null) File.WriteAllText(opts.Output, report.ToString());
return 0;

static float[] Pixels(int batch)
{
    var p = new float[batch * 3 * 224 * 224];
    for (int i = 0; i < p.Length; i++) p[i] = MathF.Sin(i * 0.0137f) + 0.3f * MathF.Cos(i * 0.00071f);
    return p;
}

// One variant alone: this program again, in a child process (--probe), which loads it, runs it once
// to warm up (the CLS it returns), then ProbeRuns timed runs, and reports their median and its peak RSS.
ProbeResult RunProbe(Variant v, int batch, int threads)
{
    var psi = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true };
    if (Path.GetFileNameWithoutExtension(Environment.ProcessPath!) == "dotnet") psi.ArgumentList.Add(typeof(Options).Assembly.Location);
    foreach (string a in new[] { "--probe", v.Path, "--batch", batch.ToString(), "--threads", threads.ToString() }) psi.ArgumentList.Add(a);
    if (v.Weights7Bit) psi.ArgumentList.Add("--weights-7bit");
    using var p = Process.Start(psi)!;
    string o = p.StandardOutput.ReadToEnd();
    p.WaitForExit();
    if (p.ExitCode != 0) throw new InvalidOperationException($"bench: the probe of {v.Name} failed (exit {p.ExitCode})");
    return JsonSerializer.Deserialize<ProbeResult>(o)!;
}

static int Probe(Options o)
{
    var v = new Variant("probe", o.Probe!, o.Probe!.EndsWith(".onnx"), o.Weights7Bit);
    int batch = o.Batches[0];
    float[] pixels = Pixels(batch);
    using var r = v.Open(o.Threads[0], batch);
    float[] cls = r.Run(pixels).ToArray();
    var ms = new List<double>();
    for (int i = 0; i < ProbeRuns; i++)
    {
        var sw = Stopwatch.StartNew();
        r.Run(pixels);
        ms.Add(sw.Elapsed.TotalMilliseconds / batch);
    }
    ms.Sort();
    Console.WriteLine(JsonSerializer.Serialize(new ProbeResult(ms[ms.Count / 2], cls, Dino.Cli.PeakRss.Bytes())));
    return 0;
}

static IEnumerable<string> RunTorch(Options o)
{
    var psi = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true };
    psi.ArgumentList.Add(Path.Combine(o.BenchDir, "torch_bench.py"));
    psi.ArgumentList.Add(o.Torch!);
    psi.ArgumentList.Add("--batch"); foreach (int b in o.Batches) psi.ArgumentList.Add(b.ToString());
    psi.ArgumentList.Add("--threads"); foreach (int t in o.Threads) psi.ArgumentList.Add(t.ToString());
    psi.ArgumentList.Add("--runs"); psi.ArgumentList.Add(o.Rounds.ToString());
    using var p = Process.Start(psi)!;
    var lines = new List<string>();
    string? l;
    while ((l = p.StandardOutput.ReadLine()) != null) lines.Add(l);
    p.WaitForExit();
    return lines;
}

sealed record ProbeResult(double Median, float[] Cls, long Rss);

sealed record Variant(string Name, string Path, bool Onnx, bool Weights7Bit = false)
{
    public const string SevenBit = "-7bit";

    // The file a --types entry reads: q8_0-7bit is the q8_0 file.
    public static string FileType(string type) => type.EndsWith(SevenBit) ? type[..^SevenBit.Length] : type;

    public DinoModelOptions LoadOptions(int threads) => new()
    {
        ThreadsPerCall = threads, MaxBatchSize = 64, Int8Weights = Weights7Bit ? Int8Weights.SevenBit : Int8Weights.AsStored,
    };

    public IRunner Open(int threads, int batch) => Onnx ? new OrtRunner(Path, threads, batch) : new DinoRunner(Path, LoadOptions(threads));
}

interface IRunner : IDisposable
{
    // The CLS embeddings of the batch in pixels, [batch, 384].
    ReadOnlySpan<float> Run(float[] pixels);
}

sealed class DinoRunner(string path, DinoModelOptions options) : IRunner
{
    private readonly DinoModel _m = DinoModel.Load(path, options);

    public ReadOnlySpan<float> Run(float[] pixels)
    {
        int n = 3 * 224 * 224;
        var tensors = Enumerable.Range(0, pixels.Length / n).Select(i => new ImageTensor(pixels.AsSpan(i * n, n).ToArray(), 224, 224)).ToArray();
        return _m.EmbedBatch(tensors).SelectMany(e => e.Embedding).ToArray();
    }

    public void Dispose() => _m.Dispose();
}

// ONNX Runtime at its best: all graph optimizations, its own intra-op pool (spinning allowed: alone in
// its process it takes no one's cores), and input and output OrtValues made once over pinned arrays.
sealed class OrtRunner : IRunner
{
    private readonly InferenceSession _s;
    private readonly RunOptions _run = new();
    private readonly float[] _input, _output;
    private readonly OrtValue _in, _out;
    private readonly string[] _inNames, _outNames;

    public OrtRunner(string path, int threads, int batch)
    {
        var so = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, IntraOpNumThreads = threads, InterOpNumThreads = 1,
                                      ExecutionMode = ExecutionMode.ORT_SEQUENTIAL };
        _s = new InferenceSession(path, so);
        _inNames = _s.InputMetadata.Keys.ToArray();
        _outNames = _s.OutputMetadata.Keys.Take(1).ToArray();
        _input = new float[batch * 3 * 224 * 224];
        _output = new float[batch * 384];
        _in = OrtValue.CreateTensorValueFromMemory(_input, new long[] { batch, 3, 224, 224 });
        _out = OrtValue.CreateTensorValueFromMemory(_output, new long[] { batch, 384 });
    }

    public ReadOnlySpan<float> Run(float[] pixels)
    {
        pixels.CopyTo(_input, 0);
        _s.Run(_run, _inNames, new[] { _in }, _outNames, new[] { _out });
        return _output;
    }

    public void Dispose()
    {
        _in.Dispose();
        _out.Dispose();
        _run.Dispose();
        _s.Dispose();
    }
}

sealed class Options
{
    public string Data = "out/bench";
    public string BenchDir = AppContext.BaseDirectory;
    public string[] Types = { "f32", "f16", "q8_0", "q4_0" };
    public string[] Dinov2Types = System.Array.Empty<string>();
    public int[] Batches = { 1, 8 };
    public int[] Threads = { 2, 1 };
    public int Rounds = 5;
    public string? Torch, Output, Probe;
    public bool Weights7Bit;  // (a probe's)

    public const string Usage =
        "usage: bench/run.sh [--types f32,f16,q8_0,q8_0-7bit,q4_0] [--dinov2 f32,q8_0] [--batch 1,8] [--threads 2,1] [--rounds N] [--torch PTH]";

    // Lists take commas or spaces ("--batch 1,8" or "--batch 1 8"); a bad argument is an OptionsException.
    public static Options Parse(string[] args)
    {
        var o = new Options();
        for (int i = 0; i < args.Length; i++)
        {
            string option = args[i];
            string Next() => ++i < args.Length ? args[i] : throw new OptionsException($"{option} needs a value");
            int Int(string s) => int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n > 0
                ? n : throw new OptionsException($"{option}: '{s}' is not a positive whole number");
            string[] List()
            {
                var items = new List<string>(Next().Split(',', StringSplitOptions.RemoveEmptyEntries));
                while (i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal))
                    items.AddRange(args[++i].Split(',', StringSplitOptions.RemoveEmptyEntries));
                return items.Count > 0 ? items.ToArray() : throw new OptionsException($"{option} needs a value");
            }
            switch (option)
            {
                case "--data": o.Data = Next(); break;
                case "--bench-dir": o.BenchDir = Next(); break;
                case "--types": o.Types = List(); break;
                case "--dinov2": o.Dinov2Types = List(); break;
                case "--batch": o.Batches = List().Select(Int).ToArray(); break;
                case "--threads": o.Threads = List().Select(Int).ToArray(); break;
                case "--rounds": o.Rounds = Int(Next()); break;
                case "--torch": o.Torch = Next(); break;
                case "--output": o.Output = Next(); break;
                case "--probe": o.Probe = Next(); break;
                case "--weights-7bit": o.Weights7Bit = true; break;
                default: throw new OptionsException($"unknown option {option}");
            }
        }
        return o;
    }
}

sealed class OptionsException(string message) : Exception(message);
