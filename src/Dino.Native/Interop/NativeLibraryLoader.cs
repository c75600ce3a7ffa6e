using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace Dino.Interop;

/// <summary>
/// Finds and loads libdino with the ggml build that fits this CPU.
/// </summary>
/// <remarks>
/// The package brings, for each RID, runtimes/&lt;rid&gt;/native/ with libdino and
/// ggml-base at the top and ggml-cpu per x86-64 CPU level in
/// {avx512,avx2,avx,noavx}/ (native/cpu-variants.txt; a level's own ggml-base beside it where it differs;
/// see buildTransitive/Dino.Native.targets). The best level the CPU supports is
/// preloaded (ggml-base, then ggml-cpu), so that libdino binds to it when it loads. DINO_NATIVE_DIR and
/// DINO_CPU_VARIANT (or <see cref="Directory"/> and <see cref="CpuVariant"/>, which
/// the public DinoNativeLibrary sets) override the search.
/// </remarks>
internal static class NativeLibraryLoader
{
    private static readonly object Gate = new();
    private static IntPtr _dino;
    private static string? _failure;
    private static bool _resolverSet;

    /// <summary>A folder to load from instead of the package's (before DINO_NATIVE_DIR).</summary>
    internal static string? Directory { get; set; }

    /// <summary>A CPU variant to load instead of the best one (before DINO_CPU_VARIANT).</summary>
    internal static string? CpuVariant { get; set; }

    /// <summary>The directory and variant that were loaded (for diagnostics).</summary>
    // Where the system loader resolved ggml-base from another file than ours (one loaded into the process
    // first, by another library, wins by its name): "; but ggml-base is <that file> ...", else "".
    private static unsafe string OtherGgmlBase(IntPtr dino, string ours)
    {
        if (!NativeLibrary.TryGetExport(dino, "dino_ggml_path", out IntPtr export)) return "";
        string actual = NativeMethods.Utf8(((delegate* unmanaged[Cdecl]<byte*>)export)()) ?? "";
        if (!Path.GetFileName(actual).Contains("ggml-base", StringComparison.OrdinalIgnoreCase)) return "";  // (it could not say)
        string Real(string p) => new FileInfo(p).LinkTarget is null ? Path.GetFullPath(p) : File.ResolveLinkTarget(p, true)?.FullName ?? p;
        return string.Equals(Real(actual), Real(ours), OperatingSystem.IsWindows() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal)
            ? "" : $"; but ggml-base is {actual}, loaded into this process before ours";
    }

    internal static string? LoadedFrom { get; private set; }

    internal static void EnsureLoaded()
    {
        lock (Gate)
        {
            if (!_resolverSet)
            {
                NativeLibrary.SetDllImportResolver(typeof(NativeLibraryLoader).Assembly, Resolve);
                _resolverSet = true;
            }
            if (_dino != IntPtr.Zero) return;
            if (_failure != null) throw new DinoNativeException(_failure);
            _dino = LoadBest(out string? error);
            if (_dino == IntPtr.Zero)
            {
                _failure = error;
                throw new DinoNativeException(error!);
            }
        }
    }

    private static IntPtr Resolve(string name, Assembly assembly, DllImportSearchPath? path)
    {
        if (name != NativeMethods.Library) return IntPtr.Zero;
        EnsureLoaded();
        return _dino;
    }

    private static (string prefix, string suffix) LibraryNaming() =>
        OperatingSystem.IsWindows() ? ("", ".dll") : OperatingSystem.IsMacOS() ? ("lib", ".dylib") : ("lib", ".so");

    internal static string RuntimeId()
    {
        string os = OperatingSystem.IsWindows() ? "win" : OperatingSystem.IsMacOS() ? "osx" : "linux";
        string arch = RuntimeInformation.ProcessArchitecture switch
        {
            Architecture.X64 => "x64",
            Architecture.Arm64 => "arm64",
            Architecture.X86 => "x86",
            var a => a.ToString().ToLowerInvariant(),
        };
        return $"{os}-{arch}";
    }

    /// <summary>The x86-64 levels of ggml the package ships, best first, each with the CPU features it needs
    /// (/proc/cpuinfo names): native/cpu-variants.txt, the table CMake and the scripts read, embedded.</summary>
    internal static IReadOnlyList<(string Level, string[] Needs)> CpuLevels { get; } = ReadCpuLevels();

    private static List<(string, string[])> ReadCpuLevels()
    {
        using Stream table = typeof(NativeLibraryLoader).Assembly.GetManifestResourceStream("Dino.cpu-variants.txt")
            ?? throw new InvalidOperationException("Dino.cpu-variants.txt is not embedded in Dino.Native");
        using var reader = new StreamReader(table);
        var levels = new List<(string, string[])>();
        while (reader.ReadLine() is string line)
        {
            string[] columns = line.Split('#')[0].Split('|');
            if (columns.Length != 3) continue;
            levels.Add((columns[0].Trim(), columns[1].Split(' ', StringSplitOptions.RemoveEmptyEntries)));
        }
        return levels;
    }

    /// <summary>The ggml CPU variants this machine can run, best first ("" = no variant folders).</summary>
    internal static IReadOnlyList<string> SupportedVariants() =>
        RuntimeInformation.ProcessArchitecture != Architecture.X64
            ? new[] { "" }
            : CpuLevels.Where(l => l.Needs.All(HasFeature)).Select(l => l.Level).ToList();

    /// <summary>Whether this CPU has a feature, by its /proc/cpuinfo name; false for a name it does not know.</summary>
    private static bool HasFeature(string name) => name switch
    {
        "sse4_2" => Sse42.IsSupported,
        "avx" => Avx.IsSupported,
        "avx2" => Avx2.IsSupported,
        "fma" => Fma.IsSupported,
        "f16c" => X86Base.IsSupported && (X86Base.CpuId(1, 0).Ecx & (1 << 29)) != 0,
        "avx512f" => Avx512F.IsSupported,
        "avx512cd" => Avx512CD.IsSupported,
        "avx512vl" => Avx512F.VL.IsSupported,
        "avx512dq" => Avx512DQ.IsSupported,
        "avx512bw" => Avx512BW.IsSupported,
        _ => false,
    };

    // Where the package's files can be: DINO_NATIVE_DIR alone if set; else runtimes/<rid>/native/ (how the
    // package's build targets lay them out) or the top folder, beside the app and beside this assembly
    // (which differ for plugins and test hosts; the assembly has no location in single-file and NativeAOT apps).
    [UnconditionalSuppressMessage("SingleFile", "IL3000", Justification = "an empty Location is skipped")]
    private static List<string> CandidateDirectories()
    {
        string? configured = Directory ?? Environment.GetEnvironmentVariable("DINO_NATIVE_DIR");
        if (!string.IsNullOrEmpty(configured)) return new List<string> { configured };  // (absolute: LoadBest checked)
        string rid = RuntimeId();
        var bases = new List<string> { AppContext.BaseDirectory };
        string? asmDir = Path.GetDirectoryName(typeof(NativeLibraryLoader).Assembly.Location);
        if (!string.IsNullOrEmpty(asmDir)) bases.Add(asmDir);
        var dirs = new List<string>();
        // BaseDirectory ends in a separator, GetDirectoryName does not: the same folder must be tried once.
        foreach (string b in bases.Select(b => Path.TrimEndingDirectorySeparator(Path.GetFullPath(b))).Distinct())
        {
            dirs.Add(Path.Combine(b, "runtimes", rid, "native"));
            dirs.Add(b);
        }
        return dirs;
    }

    private static IntPtr LoadBest(out string? error)
    {
        var (prefix, suffix) = LibraryNaming();
        string dinoFile = prefix + "dino" + suffix, baseFile = prefix + "ggml-base" + suffix, cpuFile = prefix + "ggml-cpu" + suffix;
        var supported = SupportedVariants();
        string? configured = Directory ?? Environment.GetEnvironmentVariable("DINO_NATIVE_DIR");
        if (!string.IsNullOrEmpty(configured) && !Path.IsPathFullyQualified(configured))
        {
            // Relative, it would name a folder under whatever the working directory is: libraries planted
            // there would load (and run their constructors) in this process.
            error = $"'{Printable(configured)}' (DINO_NATIVE_DIR): not an absolute path; give the full path of the folder holding libdino";
            return IntPtr.Zero;
        }
        string? forced = CpuVariant ?? Environment.GetEnvironmentVariable("DINO_CPU_VARIANT");
        var variants = supported.ToList();
        var tried = new List<string>();  // each failure once: variants share ggml-base
        void Tried(string what) { if (!tried.Contains(what)) tried.Add(what); }
        if (!string.IsNullOrEmpty(forced))
        {
            if (!supported.Contains(forced))
            {
                var all = CpuLevels.Select(l => l.Level).ToList();
                string shown = Printable(forced);
                error = RuntimeInformation.ProcessArchitecture != Architecture.X64
                    ? $"'{shown}' (DINO_CPU_VARIANT): {RuntimeId()} has one ggml build, no CPU variants; unset DINO_CPU_VARIANT"
                    : !all.Contains(forced)
                        ? $"'{shown}' (DINO_CPU_VARIANT) is not a CPU variant; the variants are {string.Join(", ", all)} (this CPU runs {string.Join(", ", supported)})"
                        : $"CPU variant '{shown}' (DINO_CPU_VARIANT) cannot run on this CPU; it runs {string.Join(", ", supported)}";
                return IntPtr.Zero;
            }
            variants = new List<string> { forced };
        }

        foreach (string dir in CandidateDirectories())
        {
            string dinoPath = Path.Combine(dir, dinoFile);
            if (!File.Exists(dinoPath))
            {
                Tried(dinoPath + ": not found");
                continue;
            }
            foreach (string v in variants)
            {
                string ggmlDir = Path.Combine(dir, v);
                string cpuPath = Path.Combine(ggmlDir, cpuFile);
                // The variant's own ggml-base where it has one, else the one all variants share.
                string basePath = File.Exists(Path.Combine(ggmlDir, baseFile)) ? Path.Combine(ggmlDir, baseFile) : Path.Combine(dir, baseFile);
                string? missing = !File.Exists(cpuPath) ? cpuPath : !File.Exists(basePath) ? basePath : null;
                if (missing != null)
                {
                    Tried(missing + ": not found");
                    continue;
                }
                try
                {
                    NativeLibrary.Load(basePath);
                    NativeLibrary.Load(cpuPath);
                    IntPtr h = NativeLibrary.Load(dinoPath);
                    LoadedFrom = $"{dinoPath} with ggml from {ggmlDir}" + OtherGgmlBase(h, basePath);
                    error = null;
                    return h;
                }
                catch (Exception e) when (e is DllNotFoundException or BadImageFormatException)
                {
                    Tried(ggmlDir + ": " + e.Message);
                }
            }
        }
        string which = variants.Any(v => v.Length > 0) ? $" (CPU variants {string.Join(", ", variants)})" : "";
        error = $"cannot load the native Dino library for {RuntimeId()}{which}. Tried:{string.Concat(tried.Select(t => "\n  " + t))}\n" +
                "Set DINO_NATIVE_DIR to the folder holding libdino and the ggml variant folders, or reinstall the Dino.Native package." +
                (OperatingSystem.IsWindows()
                    ? "\nggml's DLLs need the Microsoft Visual C++ 2015-2022 Redistributable (x64): VCRUNTIME140, MSVCP140 and VCOMP140 (OpenMP)."
                    : GlibcNote(tried));
        return IntPtr.Zero;
    }

    // A value from the environment as an error message shows it: control characters (escape sequences
    // that a terminal would act on) as '?', as the native side shows DINO_KERNELS.
    private static string Printable(string value) => string.Concat(value.Select(c => char.IsControl(c) ? '?' : c));

    // The dynamic loader names the glibc version a library needs ("version `GLIBC_2.38' not found"):
    // say it plainly, with the version this system has.
    private static string GlibcNote(IEnumerable<string> tried)
    {
        var needed = tried.Select(t => System.Text.RegularExpressions.Regex.Match(t, @"GLIBC_(\d+\.\d+)' not found"))
            .Where(m => m.Success).Select(m => Version.Parse(m.Groups[1].Value)).DefaultIfEmpty().Max();
        if (needed == null) return "";
        string has = SystemGlibc() is string v ? $"this system has glibc {v}" : "this system's C library is older";
        return $"\nThe native libraries for {RuntimeId()} need glibc {needed} or newer; {has}. " +
               "See the package README (platforms) for the distributions that have it.";
    }

    private static unsafe string? SystemGlibc()
    {
        if (!NativeLibrary.TryLoad("libc.so.6", out IntPtr libc)) return null;
        if (!NativeLibrary.TryGetExport(libc, "gnu_get_libc_version", out IntPtr f)) return null;
        return Marshal.PtrToStringUTF8((IntPtr)((delegate* unmanaged<byte*>)f)());
    }
}
