using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Dino.Interop;

// Blittable mirrors of the structs in native/dino.h (same field order and types;
// C bool is one byte).

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct NativeModelInfo
{
    public fixed byte Name[64];
    public fixed byte WeightType[16];
    public int EmbeddingLength;
    public int BlockCount;
    public int HeadCount;
    public int FeedForwardLength;
    public int PatchSize;
    public int ImageSize;
    public float LayerNormEps;
    public long ParameterCount;
    public long WeightBytes;
    public int PreprocessResize;
    public int PreprocessCrop;
    public int PreprocessResample;
    public float PreprocessRescale;
    public fixed float PreprocessMean[3];
    public fixed float PreprocessStd[3];
    public byte PreprocessResizeShortestEdge;
    public fixed byte Kernels[64];
    public fixed byte Quantization[256];
    public fixed byte Family[16];
    public int RegisterCount;
    public byte Swiglu;
    public int PositionInterpolation;
    public int InputSize;
    public byte PreprocessCropRoundDown;
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct NativeTensorInfo
{
    public fixed byte Name[64];
    public fixed byte Type[16];
    public int NDims;
    public fixed long Ne[4];
    public long NBytes;
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct NativeProfileEntry
{
    public fixed byte Name[32];
    public int Kind;
    public int Block;
    public int PeakKind;
    public double Seconds;
    public double Ops;
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct NativeQuantizeParams
{
    public byte* Type;
    public float* Calibration;
    public int NCalibration;
    public int CalibrationSize;
    public double TargetCos;
    public double MaxMb;
    public int NThreads;
    public delegate* unmanaged[Cdecl]<byte*, int, int, void*, byte> Progress;
    public void* ProgressUserData;
    public long MaxMemoryMb;
}

[StructLayout(LayoutKind.Sequential)]
internal struct NativeModelParams
{
    public byte CheckValues;
    public int Int8Weights;
}

[StructLayout(LayoutKind.Sequential)]
internal struct NativeContextParams
{
    public int NThreads;
    public int PosInterp;
    public int AttentionKernel;
    public long MaxMemoryMb;
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct NativeOutputs
{
    public float* Tokens;
    public float* Cls;
    public float* Attention;
    public float* Intermediate;
    public nuint TokensCapacity;
    public nuint ClsCapacity;
    public nuint AttentionCapacity;
    public nuint IntermediateCapacity;
    public int NIntermediate;
    public byte AttentionFull;
    public float* Registers;
    public nuint RegistersCapacity;
}

/// <summary>Every function of native/dino.h (a test checks the header against this list).</summary>
internal static unsafe partial class NativeMethods
{
    internal const string Library = "dino";

    [LibraryImport(Library, EntryPoint = "dino_last_error")]
    internal static partial byte* dino_last_error();

    [LibraryImport(Library, EntryPoint = "dino_version")]
    internal static partial byte* dino_version();

    // (The loader calls it through NativeLibrary.GetExport while it resolves the library: NativeLibraryLoader.OtherGgmlBase.)
    [LibraryImport(Library, EntryPoint = "dino_ggml_path")]
    internal static partial byte* dino_ggml_path();

    [LibraryImport(Library, EntryPoint = "dino_log_set")]
    internal static partial void dino_log_set(delegate* unmanaged[Cdecl]<int, byte*, void*, void> callback, void* userData);

    [LibraryImport(Library, EntryPoint = "dino_model_default_params")]
    internal static partial NativeModelParams dino_model_default_params();

    [LibraryImport(Library, EntryPoint = "dino_model_load", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial DinoStatus dino_model_load(string path, NativeModelParams* parameters, out IntPtr model);

    [LibraryImport(Library, EntryPoint = "dino_model_free")]
    internal static partial void dino_model_free(IntPtr model);

    [LibraryImport(Library, EntryPoint = "dino_model_get_info")]
    internal static partial DinoStatus dino_model_get_info(ModelHandle model, NativeModelInfo* info);

    [LibraryImport(Library, EntryPoint = "dino_model_tensor_count")]
    internal static partial int dino_model_tensor_count(ModelHandle model);

    [LibraryImport(Library, EntryPoint = "dino_model_tensor_info")]
    internal static partial DinoStatus dino_model_tensor_info(ModelHandle model, int index, NativeTensorInfo* info);

    [LibraryImport(Library, EntryPoint = "dino_model_token_count")]
    internal static partial int dino_model_token_count(ModelHandle model, int height, int width);

    [LibraryImport(Library, EntryPoint = "dino_context_default_params")]
    internal static partial NativeContextParams dino_context_default_params();

    [LibraryImport(Library, EntryPoint = "dino_context_new")]
    internal static partial DinoStatus dino_context_new(ModelHandle model, NativeContextParams* parameters, out IntPtr context);

    [LibraryImport(Library, EntryPoint = "dino_context_free")]
    internal static partial void dino_context_free(IntPtr context);

    [LibraryImport(Library, EntryPoint = "dino_context_get_threads")]
    internal static partial int dino_context_get_threads(ContextHandle context);

    [LibraryImport(Library, EntryPoint = "dino_context_set_abort_callback")]
    internal static partial void dino_context_set_abort_callback(ContextHandle context, delegate* unmanaged[Cdecl]<void*, byte> callback, void* userData);

    [LibraryImport(Library, EntryPoint = "dino_outputs_default")]
    internal static partial NativeOutputs dino_outputs_default();

    [LibraryImport(Library, EntryPoint = "dino_compute")]
    internal static partial DinoStatus dino_compute(ContextHandle context, float* pixels, int nImages, int height, int width, NativeOutputs* outputs);

    [LibraryImport(Library, EntryPoint = "dino_context_set_profiling")]
    internal static partial void dino_context_set_profiling(ContextHandle context, byte on);

    [LibraryImport(Library, EntryPoint = "dino_context_get_profile")]
    internal static partial int dino_context_get_profile(ContextHandle context, NativeProfileEntry* entries, int capacity, double* totalSeconds);

    [LibraryImport(Library, EntryPoint = "dino_peak_ops")]
    internal static partial double dino_peak_ops(int kind, int nThreads, double seconds);

    [LibraryImport(Library, EntryPoint = "dino_quantize_type_name")]
    internal static partial byte* dino_quantize_type_name(int index);

    [LibraryImport(Library, EntryPoint = "dino_quantize", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial DinoStatus dino_quantize(string inputPath, string outputPath, string type);

    [LibraryImport(Library, EntryPoint = "dino_quantize_default_params")]
    internal static partial NativeQuantizeParams dino_quantize_default_params();

    [LibraryImport(Library, EntryPoint = "dino_quantize_model", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial DinoStatus dino_quantize_model(string inputPath, string outputPath, NativeQuantizeParams* parameters);

    /// <summary>The calling thread's last native error message.</summary>
    internal static string LastError() => Utf8(dino_last_error()) ?? "";

    internal static string? Utf8(byte* s) => s == null ? null : Marshal.PtrToStringUTF8((IntPtr)s);

    /// <summary>Reports dino_quantize_model's progress to a <see cref="QuantizeCallbackState"/>; false stops it.</summary>
    [UnmanagedCallersOnly(CallConvs = new[] { typeof(CallConvCdecl) })]
    internal static byte QuantizeProgress(byte* stage, int done, int total, void* userData)
    {
        var state = (QuantizeCallbackState)GCHandle.FromIntPtr((IntPtr)userData).Target!;
        return state.Report(Utf8(stage) ?? "", done, total) ? (byte)1 : (byte)0;
    }

    /// <summary>Aborts the native computation when the int at userData is non-zero.</summary>
    [UnmanagedCallersOnly(CallConvs = new[] { typeof(CallConvCdecl) })]
    internal static byte AbortWhenFlagged(void* userData) => Volatile.Read(ref *(int*)userData) != 0 ? (byte)1 : (byte)0;
}

