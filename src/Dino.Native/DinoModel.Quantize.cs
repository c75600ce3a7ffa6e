using Dino.Interop;

namespace Dino;

public sealed partial class DinoModel
{
    /// <summary>The types <see cref="Quantize(string, string, QuantizeOptions, CancellationToken)"/> writes, by ggml's name ("f16", "q8_0", "q4_0", "q4_k", ...), from the native library.</summary>
    public static IReadOnlyList<string> QuantizationTypes
    {
        get
        {
            NativeLibraryLoader.EnsureLoaded();
            var names = new List<string>();
            unsafe
            {
                for (byte* n; (n = NativeMethods.dino_quantize_type_name(names.Count)) != null;) names.Add(NativeMethods.Utf8(n)!);
            }
            return names;
        }
    }

    /// <summary>
    /// Writes a copy of an f32/f16/bf16 model with its linear weights converted by ggml's quantizers to
    /// <paramref name="type"/>, one of <see cref="QuantizationTypes"/> (see docs/gguf.md for the K-quant fallbacks).
    /// </summary>
    public static void Quantize(string inputPath, string outputPath, string type)
    {
        ArgumentException.ThrowIfNullOrEmpty(inputPath);
        ArgumentException.ThrowIfNullOrEmpty(outputPath);
        ArgumentException.ThrowIfNullOrEmpty(type);
        NativeLibraryLoader.EnsureLoaded();
        var status = NativeMethods.dino_quantize(inputPath, outputPath, type);
        if (status == DinoStatus.InvalidArgument) throw new ArgumentException(NativeMethods.LastError(), nameof(type));
        Errors.ThrowIfFailed(status, ErrorSource.Model);
    }

    /// <summary>
    /// Writes a quantized copy of an f32/f16/bf16 model: every linear weight in <see cref="QuantizeOptions.Type"/>,
    /// with an importance matrix from <see cref="QuantizeOptions.Calibration"/> when given, or each layer's type
    /// chosen by measurement for <see cref="QuantizeOptions.TargetCosine"/> and <see cref="QuantizeOptions.MaxMegabytes"/>.
    /// The file says how it was made (<see cref="DinoModelInfo.Quantization"/>); the same inputs give the same bytes.
    /// </summary>
    /// <exception cref="ArgumentException">A bad option: an unknown type, a target without images, images of another size.</exception>
    /// <exception cref="DinoModelException">The input is not a model this can quantize, or cannot be read or written.</exception>
    /// <exception cref="OperationCanceledException">Cancelled (checked between images and layers).</exception>
    public static void Quantize(string inputPath, string outputPath, QuantizeOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(inputPath);
        ArgumentException.ThrowIfNullOrEmpty(outputPath);
        ArgumentNullException.ThrowIfNull(options);
        var images = options.Calibration ?? Array.Empty<ImageTensor>();
        bool target = options.TargetCosine != 0 || options.MaxMegabytes != 0;
        if (options.Type is null && !target) throw new ArgumentException("a type, or a target (TargetCosine, MaxMegabytes), is needed", nameof(options));
        if (target && images.Count == 0) throw new ArgumentException("a target needs calibration images to measure on", nameof(options));
        if (images.Count > QuantizeOptions.MaxCalibrationImages)
            throw new ArgumentException($"{images.Count} calibration images is more than {QuantizeOptions.MaxCalibrationImages} (QuantizeOptions.MaxCalibrationImages; a few dozen are enough)", nameof(options));
        int size = images.Count > 0 ? images[0].Height : 0;
        var pixels = new float[(long)images.Count * 3 * size * size];
        for (int i = 0; i < images.Count; i++)
        {
            var t = images[i] ?? throw new ArgumentException($"calibration image {i} is null", nameof(options));
            if (t.Height != size || t.Width != size)
                throw new ArgumentException($"calibration image {i} is {t.Width}x{t.Height}; every one must be square and {size}x{size} like the first", nameof(options));
            t.Data.CopyTo(pixels, (long)i * t.Data.Length);
        }
        NativeLibraryLoader.EnsureLoaded();
        var state = new QuantizeCallbackState(options.Progress, cancellationToken);
        var handle = System.Runtime.InteropServices.GCHandle.Alloc(state);
        try
        {
            unsafe
            {
                var typeBytes = options.Type is null ? null : System.Text.Encoding.UTF8.GetBytes(options.Type + "\0");
                fixed (byte* type = typeBytes)
                fixed (float* p = pixels)
                {
                    var n = NativeMethods.dino_quantize_default_params();
                    n.Type = type;
                    n.Calibration = images.Count > 0 ? p : null;
                    n.NCalibration = images.Count;
                    n.CalibrationSize = size;
                    n.TargetCos = options.TargetCosine;
                    n.MaxMb = options.MaxMegabytes;
                    n.NThreads = options.Threads;
                    n.MaxMemoryMb = options.MaxComputeMemoryMB;
                    n.Progress = &NativeMethods.QuantizeProgress;
                    n.ProgressUserData = (void*)System.Runtime.InteropServices.GCHandle.ToIntPtr(handle);
                    var status = NativeMethods.dino_quantize_model(inputPath, outputPath, &n);
                    state.ThrowIfProgressFailed();
                    if (status == DinoStatus.InvalidArgument) throw new ArgumentException(NativeMethods.LastError(), nameof(options));
                    Errors.ThrowIfFailed(status, ErrorSource.Model, cancellationToken);
                }
            }
        }
        finally
        {
            handle.Free();
        }
    }
}
