using Dino.Interop;

namespace Dino;

/// <summary>
/// Process-wide settings of the native engine: where it is loaded from, and where its log lines go.
/// Set <see cref="Directory"/> and <see cref="CpuVariant"/> before the first model is loaded.
/// </summary>
public static unsafe class DinoNativeLibrary
{
    private static Action<DinoLogLevel, string>? _logger;

    /// <summary>A folder holding libdino and the ggml variant folders, as an absolute path (default: the package's runtimes folder; env DINO_NATIVE_DIR). A relative one is refused: it would load whatever the working directory holds.</summary>
    public static string? Directory
    {
        get => NativeLibraryLoader.Directory;
        set => NativeLibraryLoader.Directory = value;
    }

    /// <summary>Force a ggml CPU variant: avx512, avx2, avx or noavx (env DINO_CPU_VARIANT). A variant this CPU cannot run is refused.</summary>
    public static string? CpuVariant
    {
        get => NativeLibraryLoader.CpuVariant;
        set => NativeLibraryLoader.CpuVariant = value;
    }

    /// <summary>The ggml CPU variants this machine can run, best first.</summary>
    public static IReadOnlyList<string> SupportedCpuVariants => NativeLibraryLoader.SupportedVariants();

    /// <summary>The native version: "dino x.y.z; ggml 0.18.0 (commit)". Loads the library.</summary>
    public static string Version
    {
        get
        {
            NativeLibraryLoader.EnsureLoaded();
            return NativeMethods.Utf8(NativeMethods.dino_version()) ?? "";
        }
    }

    /// <summary>Which files were loaded (null before loading).</summary>
    public static string? LoadedFrom => NativeLibraryLoader.LoadedFrom;

    /// <summary>
    /// Receives the native library's and ggml's log lines (from any thread). Null silences them;
    /// until this is called, warnings and errors go to stderr.
    /// </summary>
    public static void SetLogger(Action<DinoLogLevel, string>? logger)
    {
        NativeLibraryLoader.EnsureLoaded();
        _logger = logger;
        if (logger == null) NativeMethods.dino_log_set(null, null);
        else NativeMethods.dino_log_set(&OnLog, null);
    }

    [System.Runtime.InteropServices.UnmanagedCallersOnly(CallConvs = new[] { typeof(System.Runtime.CompilerServices.CallConvCdecl) })]
    private static void OnLog(int level, byte* message, void* userData)
    {
        try { _logger?.Invoke((DinoLogLevel)level, (NativeMethods.Utf8(message) ?? "").TrimEnd('\n')); }
        catch { /* an exception must not cross into native code */ }
    }
}
