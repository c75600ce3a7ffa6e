using Dino.Interop;

namespace Dino;

/// <summary>
/// A DINO ViT loaded from a GGUF file: load once, embed many.
/// </summary>
/// <remarks>
/// Thread safety: every member may be called from many threads at once. Each
/// call borrows a native compute context from a pool (created on demand; up to
/// <see cref="DinoModelOptions.MaxIdleContexts"/> kept for reuse), so concurrent
/// calls run in parallel; the weights are shared and
/// read-only. Dispose when done: calls in flight finish first, later calls
/// throw <see cref="ObjectDisposedException"/>.
/// </remarks>
public sealed partial class DinoModel : IDisposable
{
    private readonly ModelHandle _handle;
    private readonly DinoModelOptions _options;
    private readonly ContextPool _pool;
    private volatile bool _disposed;

    private DinoModel(ModelHandle handle, DinoModelOptions options, string path)
    {
        _handle = handle;
        _options = options;
        Path = path;
        _tensors = new Lazy<IReadOnlyList<DinoTensorInfo>>(ReadTensors);
        var p = NativeMethods.dino_context_default_params();
        p.NThreads = options.ThreadsPerCall;
        p.PosInterp = (int)options.PositionInterpolation;
        p.AttentionKernel = (int)options.Attention;
        p.MaxMemoryMb = options.MaxComputeMemoryMB;
        _pool = new ContextPool(handle, p, options.MaxIdleContexts, this);
        unsafe
        {
            NativeModelInfo i;
            Errors.ThrowIfFailed(NativeMethods.dino_model_get_info(handle, &i), ErrorSource.Model);
            Info = new DinoModelInfo(
                NativeMethods.Utf8(i.Name) ?? "", NativeMethods.Utf8(i.WeightType) ?? "", i.EmbeddingLength, i.BlockCount,
                i.HeadCount, i.FeedForwardLength, i.PatchSize, i.ImageSize, i.LayerNormEps, i.ParameterCount, i.WeightBytes,
                NativeMethods.Utf8(i.Kernels) ?? "", NativeMethods.Utf8(i.Quantization) ?? "")
            {
                Family = NativeMethods.Utf8(i.Family) ?? "",
                RegisterCount = i.RegisterCount,
                SwiGlu = i.Swiglu != 0,
                PositionInterpolation = (PositionInterpolation)i.PositionInterpolation,
                InputSize = i.InputSize,
            };
            DefaultPreprocessing = new PreprocessOptions
            {
                Resize = i.PreprocessResize,
                ResizeShortestEdge = i.PreprocessResizeShortestEdge != 0,
                Crop = i.PreprocessCrop,
                CropRounding = i.PreprocessCropRoundDown != 0 ? CenterCropRounding.Down : CenterCropRounding.HalfToEven,
                Resample = i.PreprocessResample == 1 ? ResampleFilter.Bicubic : ResampleFilter.Bilinear,
                RescaleFactor = i.PreprocessRescale,
                Mean = new[] { i.PreprocessMean[0], i.PreprocessMean[1], i.PreprocessMean[2] },
                Std = new[] { i.PreprocessStd[0], i.PreprocessStd[1], i.PreprocessStd[2] },
            };
        }
    }

    /// <summary>Loads and validates a GGUF model (see docs/gguf.md).</summary>
    /// <exception cref="DinoModelException">The file is missing, unreadable or not a valid DINO GGUF.</exception>
    /// <exception cref="DinoNativeException">The native library cannot be loaded.</exception>
    public static DinoModel Load(string path, DinoModelOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        options ??= new DinoModelOptions();
        options.Validate();
        var handle = ModelHandle.Load(path, options.CheckWeights, options.Int8Weights);
        DinoModel? model = null;
        try
        {
            model = new DinoModel(handle, options, path);
            // The first compute context, now: the native library checks the options (thread count,
            // kernel) once, where they are given, rather than at the first embedding.
            var first = model._pool.Rent();
            model.Threads = first.Threads;
            model._pool.Return(first);
            return model;
        }
        catch (DinoNativeException e) when (e.Status == DinoStatus.InvalidArgument)
        {
            Release();
            throw new ArgumentOutOfRangeException(nameof(options), e.Message);
        }
        catch
        {
            Release();
            throw;
        }

        void Release()  // the model owns the handle once it exists
        {
            if (model != null) model.Dispose();
            else handle.Dispose();
        }
    }

    /// <summary>The file this model was loaded from.</summary>
    public string Path { get; }

    /// <summary>Hyperparameters, weight type and sizes.</summary>
    public DinoModelInfo Info { get; }

    /// <summary>The model's own preprocessing (from the GGUF).</summary>
    public PreprocessOptions DefaultPreprocessing { get; }

    /// <summary>The tensors of the model file, in file order.</summary>
    public IReadOnlyList<DinoTensorInfo> Tensors => _tensors.Value;

    private readonly Lazy<IReadOnlyList<DinoTensorInfo>> _tensors;

    private unsafe IReadOnlyList<DinoTensorInfo> ReadTensors()
    {
        ThrowIfDisposed();
        int n = NativeMethods.dino_model_tensor_count(_handle);
        var list = new DinoTensorInfo[n];
        for (int k = 0; k < n; k++)
        {
            NativeTensorInfo t;
            Errors.ThrowIfFailed(NativeMethods.dino_model_tensor_info(_handle, k, &t), ErrorSource.Model);
            var shape = new long[t.NDims];
            for (int d = 0; d < t.NDims; d++) shape[d] = t.Ne[d];
            list[k] = new DinoTensorInfo(NativeMethods.Utf8(t.Name) ?? "", NativeMethods.Utf8(t.Type) ?? "", shape, t.NBytes);
        }
        return list;
    }

    /// <summary>The threads each call computes with (<see cref="DinoModelOptions.ThreadsPerCall"/>, 0 resolved to the cores this process may use).</summary>
    public int Threads { get; private set; }

    /// <summary>Tokens per image of height x width: 1 + (height/patch)(width/patch); 0 where the size is not a positive multiple of the patch size, or a side is above 8192 (the engine's largest).</summary>
    public int TokenCount(int height, int width)
    {
        ThrowIfDisposed();
        int p = Info.PatchSize;
        if (height < p || width < p || height % p != 0 || width % p != 0 || height > PreprocessOptions.MaxSide || width > PreprocessOptions.MaxSide) return 0;
        long t = 1 + (long)(height / p) * (width / p);
        return t > int.MaxValue ? 0 : (int)t;
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    /// <summary>Frees the native model once calls in flight have finished. Calling it twice is harmless.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _pool.Dispose();
        _handle.Dispose();
    }
}
