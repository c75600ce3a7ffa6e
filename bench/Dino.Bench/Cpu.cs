// Which CPU a benchmark ran on, and which class of our kernels' paths that is: a table's numbers
// mean little without it (the README keeps one table per class).
using System.Runtime.InteropServices;

static class Cpu
{
    // The x86 features that choose our kernels' paths, as /proc/cpuinfo names them.
    private static readonly string[] X86Flags = { "avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16" };
    // arm64: dot product (asimddp) and int8 matrix multiply (i8mm).
    private static readonly string[] Arm64Flags = { "asimd", "asimddp", "i8mm" };

    /// <summary>"AMD EPYC 9B14 (avx2 fma avx512f avx512_vnni avx512_bf16): class AVX-512 VNNI", plus a forced DINO_KERNELS.</summary>
    public static string Describe()
    {
        string model = "unknown model";
        var flags = new HashSet<string>();
        if (OperatingSystem.IsLinux() && File.Exists("/proc/cpuinfo"))
        {
            foreach (string line in File.ReadLines("/proc/cpuinfo"))
            {
                int colon = line.IndexOf(':');
                if (colon < 0) continue;
                string key = line[..colon].Trim(), value = line[(colon + 1)..].Trim();
                if (key == "model name" && model == "unknown model") model = value;
                if ((key == "flags" || key == "Features") && flags.Count == 0) flags.UnionWith(value.Split(' ', StringSplitOptions.RemoveEmptyEntries));
            }
        }
        bool arm = RuntimeInformation.ProcessArchitecture == Architecture.Arm64;
        var shown = (arm ? Arm64Flags : X86Flags).Where(flags.Contains).ToList();
        string cls = arm
            ? flags.Contains("i8mm") ? "arm64 i8mm" : flags.Contains("asimddp") ? "arm64 dot product" : "arm64 NEON"
            : flags.Contains("avx512f") ? (flags.Contains("avx512_vnni") ? "AVX-512 VNNI" : "AVX-512 without VNNI")
            : flags.Contains("avx2") ? (flags.Contains("avx_vnni") ? "AVX2 with AVX-VNNI" : "AVX2 without VNNI")
            : "no AVX2 (ggml's ops)";
        string? forced = Environment.GetEnvironmentVariable("DINO_KERNELS");
        return $"{model} ({(shown.Count > 0 ? string.Join(' ', shown) : "features unknown")}): class {cls}" +
               (string.IsNullOrEmpty(forced) ? "" : $"; dino rows forced to DINO_KERNELS={forced} (ONNX Runtime is not)");
    }
}
