using System.Collections.Concurrent;
using Dino.Imaging;
using Dino.Interop;
using SixLabors.ImageSharp;

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
public sealed class DinoModel : IDisposable
{
    private readonly ModelHandle _handle;
    private readonly DinoModelOptions _options;
    private readonly ConcurrentBag<ContextHandle> _contexts = new();
    private int _idleContexts;  // in _contexts, or about to be
    private volatile bool _disposed;

    private DinoModel(ModelHandle handle, DinoModelOptions options, string path)
    {
        _handle = handle;
        _options = options;
        Path = path;
        _tensors = new Lazy<IReadOnlyList<DinoTensorInfo>>(ReadTensors);
        unsafe
        {
            NativeModelInfo i;
            Errors.ThrowIfFailed(NativeMethods.dino_model_get_info(handle, &i), ErrorSource.Model);
            Info = new DinoModelInfo(
                NativeMethods.Utf8(i.Name) ?? "", NativeMethods.Utf8(i.WeightType) ?? "", i.EmbeddingLength, i.BlockCount,
                i.HeadCount, i.FeedForwardLength, i.PatchSize, i.ImageSize, i.LayerNormEps, i.ParameterCount, i.WeightBytes,
                NativeMethods.Utf8(i.Kernels) ?? "", NativeMethods.Utf8(i.Quantization) ?? "");
            DefaultPreprocessing = new PreprocessOptions
            {
                Resize = i.PreprocessResize,
                ResizeShortestEdge = i.PreprocessResizeShortestEdge != 0,
                Crop = i.PreprocessCrop,
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
        if (options.MaxBatchSize < 1) throw new ArgumentOutOfRangeException(nameof(options), "MaxBatchSize must be >= 1");
        if (options.MaxIdleContexts < 0) throw new ArgumentOutOfRangeException(nameof(options), "MaxIdleContexts must be >= 0");
        var handle = ModelHandle.Load(path, options.CheckWeights);
        DinoModel? model = null;
        try
        {
            model = new DinoModel(handle, options, path);
            // The first compute context, now: the native library checks the options (thread count,
            // kernel) once, where they are given, rather than at the first embedding.
            model.Return(model.Rent());
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

    /// <summary>Tokens per image of height x width: 1 + (height/patch)(width/patch).</summary>
    public int TokenCount(int height, int width)
    {
        ThrowIfDisposed();
        return NativeMethods.dino_model_token_count(_handle, height, width);
    }

    // ---- preprocessing ----------------------------------------------------------------

    /// <summary>Decodes and preprocesses an image file into the tensor the model sees.</summary>
    /// <exception cref="DinoImageException">The file cannot be decoded or is over the limits.</exception>
    public ImageTensor Preprocess(string path, PreprocessOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        RgbImage image;
        try
        {
            using var f = IO.RegularFile.OpenRead(path);  // a FIFO or device is refused, never waited on
            image = ImageLoader.Decode(f, _options.ImageLimits, path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DinoImageException(e.Message.Contains(path, StringComparison.Ordinal) ? e.Message : $"{path}: {e.Message}", DinoStatus.IO, e);
        }
        return ToTensor(image, options);
    }

    /// <summary>Decodes and preprocesses an encoded image from a stream (read from its current position).</summary>
    public ImageTensor Preprocess(Stream stream, PreprocessOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        return ToTensor(ImageLoader.Decode(stream, _options.ImageLimits, "stream"), options);
    }

    /// <summary>Decodes and preprocesses an encoded image (JPEG, PNG, GIF, WebP or BMP bytes).</summary>
    public ImageTensor Preprocess(ReadOnlyMemory<byte> encoded, PreprocessOptions? options = null)
    {
        using var s = System.Runtime.InteropServices.MemoryMarshal.TryGetArray(encoded, out ArraySegment<byte> a)
            ? new MemoryStream(a.Array!, a.Offset, a.Count, writable: false)
            : new MemoryStream(encoded.ToArray(), writable: false);
        return ToTensor(ImageLoader.Decode(s, _options.ImageLimits, "image bytes"), options);
    }

    /// <summary>Preprocesses an already decoded ImageSharp image.</summary>
    public ImageTensor Preprocess(Image image, PreprocessOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(image);
        return ToTensor(ImageLoader.FromImage(image), options);
    }

    private ImageTensor ToTensor(RgbImage image, PreprocessOptions? options)
    {
        var o = options ?? DefaultPreprocessing;
        o.Validate();
        var t = Preprocessor.ToTensor(image, o);
        if (t.Height % Info.PatchSize != 0 || t.Width % Info.PatchSize != 0)
            throw new DinoImageException($"the preprocessed image is {t.Width}x{t.Height}, not a multiple of the patch size {Info.PatchSize}; " +
                                         "choose a Resize/Crop that is (or a square resize)");
        return t;
    }

    // ---- embedding --------------------------------------------------------------------

    /// <summary>Embeds an image file.</summary>
    public DinoEmbedding Embed(string path, EmbedOptions? options = null, CancellationToken cancellationToken = default) =>
        Embed(Preprocess(path, options?.Preprocess), options, cancellationToken);

    /// <summary>Embeds an encoded image read from a stream.</summary>
    public DinoEmbedding Embed(Stream stream, EmbedOptions? options = null, CancellationToken cancellationToken = default) =>
        Embed(Preprocess(stream, options?.Preprocess), options, cancellationToken);

    /// <summary>Embeds encoded image bytes.</summary>
    public DinoEmbedding Embed(ReadOnlyMemory<byte> encoded, EmbedOptions? options = null, CancellationToken cancellationToken = default) =>
        Embed(Preprocess(encoded, options?.Preprocess), options, cancellationToken);

    /// <summary>Embeds an ImageSharp image.</summary>
    public DinoEmbedding Embed(Image image, EmbedOptions? options = null, CancellationToken cancellationToken = default) =>
        Embed(Preprocess(image, options?.Preprocess), options, cancellationToken);

    /// <summary>Embeds an already preprocessed tensor (any size that is a multiple of the patch size).</summary>
    public DinoEmbedding Embed(ImageTensor tensor, EmbedOptions? options = null, CancellationToken cancellationToken = default) =>
        EmbedBatch(new[] { tensor }, options, cancellationToken)[0];

    /// <summary>
    /// Embeds many tensors, computing up to <see cref="DinoModelOptions.MaxBatchSize"/> of the same size in one
    /// native call. Results are in input order.
    /// </summary>
    public IReadOnlyList<DinoEmbedding> EmbedBatch(IReadOnlyList<ImageTensor> tensors, EmbedOptions? options = null,
                                                   CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        options ??= new EmbedOptions();
        if (options.IntermediateLayers < 0 || options.IntermediateLayers > Info.BlockCount)
            throw new ArgumentOutOfRangeException(nameof(options), $"IntermediateLayers must be 0 to {Info.BlockCount}");
        for (int i = 0; i < tensors.Count; i++)
        {
            if (tensors[i] == null) throw new ArgumentNullException(nameof(tensors), $"tensor {i} is null");
        }
        var results = new DinoEmbedding[tensors.Count];
        // Same-size tensors go together; order is restored by index.
        foreach (var group in Enumerable.Range(0, tensors.Count).GroupBy(i => (tensors[i].Height, tensors[i].Width)))
        {
            foreach (int[] chunk in group.Chunk(_options.MaxBatchSize))
            {
                var computed = Compute(chunk.Select(i => tensors[i]).ToArray(), group.Key.Height, group.Key.Width, options, cancellationToken);
                for (int j = 0; j < chunk.Length; j++) results[chunk[j]] = computed[j];
            }
        }
        return results;
    }

    /// <summary>Decodes, preprocesses and embeds image files in batches. A bad file throws <see cref="DinoImageException"/> naming it.</summary>
    public IReadOnlyList<DinoEmbedding> EmbedBatch(IEnumerable<string> paths, EmbedOptions? options = null,
                                                   CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(paths);
        var tensors = paths.Select(p => { cancellationToken.ThrowIfCancellationRequested(); return Preprocess(p, options?.Preprocess); }).ToList();
        return EmbedBatch(tensors, options, cancellationToken);
    }

    /// <summary>
    /// Embeds every tensor it can: one result per tensor, in order, each an embedding or the error that kept that
    /// tensor from having one (a size that cannot be computed, the compute memory limit, a result that is not
    /// finite). The others are computed in batches as <see cref="EmbedBatch(IReadOnlyList{ImageTensor}, EmbedOptions?, CancellationToken)"/>
    /// does. Cancellation still throws.
    /// </summary>
    public IReadOnlyList<DinoEmbeddingResult> EmbedEach(IReadOnlyList<ImageTensor> tensors, EmbedOptions? options = null,
                                                       CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        return EachOf(tensors.Select((t, i) => (i, $"tensor {i}", (Func<ImageTensor>)(() => t))).ToList(), options, cancellationToken);
    }

    /// <summary>
    /// Decodes, preprocesses and embeds image files, each on its own: one result per path, in order, each an
    /// embedding or the error of that file (it does not decode, is over the limits, cannot be computed), so that a
    /// folder can be indexed without a try/catch per image. Cancellation still throws.
    /// </summary>
    public IReadOnlyList<DinoEmbeddingResult> EmbedEach(IEnumerable<string> paths, EmbedOptions? options = null,
                                                       CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(paths);
        var results = new List<DinoEmbeddingResult>();
        foreach (var chunk in Numbered(paths, options).Chunk(_options.MaxBatchSize)) results.AddRange(EachOf(chunk, options, cancellationToken));
        return results;
    }

    /// <summary>
    /// <see cref="EmbedEach(IEnumerable{string}, EmbedOptions?, CancellationToken)"/> as a stream, for collections too large
    /// to hold: results come in input order, a batch at a time, computed off the caller's thread while it consumes them.
    /// </summary>
    public async IAsyncEnumerable<DinoEmbeddingResult> EmbedEachAsync(IEnumerable<string> paths, EmbedOptions? options = null,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(paths);
        foreach (var chunk in Numbered(paths, options).Chunk(_options.MaxBatchSize))
        {
            var results = await Task.Run(() => EachOf(chunk, options, cancellationToken), cancellationToken).ConfigureAwait(false);
            foreach (var r in results) yield return r;
        }
    }

    private IEnumerable<(int index, string source, Func<ImageTensor> read)> Numbered(IEnumerable<string> paths, EmbedOptions? options)
    {
        int i = 0;
        foreach (string p in paths)
        {
            if (string.IsNullOrEmpty(p)) throw new ArgumentException($"path {i} is null or empty", nameof(paths));
            string path = p;
            int index = i++;
            yield return (index, path, () => Preprocess(path, options?.Preprocess));
        }
    }

    // The one way a batch survives its bad members: read each input, compute the readable ones together, and
    // when that batch cannot be computed, each alone, so that only the unusable ones fail.
    private DinoEmbeddingResult[] EachOf(IReadOnlyList<(int index, string source, Func<ImageTensor> read)> items, EmbedOptions? options,
                                         CancellationToken ct)
    {
        var results = new DinoEmbeddingResult[items.Count];
        var tensors = new List<ImageTensor>();
        var at = new List<int>();
        for (int k = 0; k < items.Count; k++)
        {
            ct.ThrowIfCancellationRequested();
            try
            {
                tensors.Add(items[k].read());
                at.Add(k);
            }
            catch (DinoImageException e) { results[k] = new DinoEmbeddingResult(items[k].index, items[k].source, null, e); }
        }
        DinoEmbedding[]? all = null;
        if (tensors.Count > 1)
        {
            try { all = EmbedBatch(tensors, options, ct).ToArray(); }
            catch (Exception e) when (Unusable(e)) { }  // then each alone, below
        }
        for (int j = 0; j < tensors.Count; j++)
        {
            var item = items[at[j]];
            try { results[at[j]] = new DinoEmbeddingResult(item.index, item.source, all?[j] ?? EmbedBatch(new[] { tensors[j] }, options, ct)[0], null); }
            catch (Exception e) when (Unusable(e)) { results[at[j]] = Failure(item, e); }
        }
        return results;
    }

    private static bool Unusable(Exception e) =>
        e is ArgumentException || (e is DinoNativeException n && n.Status is DinoStatus.OutOfMemory or DinoStatus.InvalidArgument or DinoStatus.Compute);

    private static DinoEmbeddingResult Failure((int index, string source, Func<ImageTensor> read) item, Exception e) =>
        new(item.index, item.source, null, e as DinoException ?? new DinoImageException($"{item.source}: {e.Message}", DinoStatus.InvalidArgument, e));

    /// <summary>Decodes, preprocesses and embeds encoded images from streams in batches. A bad one throws <see cref="DinoImageException"/>.</summary>
    public IReadOnlyList<DinoEmbedding> EmbedBatch(IEnumerable<Stream> streams, EmbedOptions? options = null,
                                                   CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(streams);
        var tensors = streams.Select(s => { cancellationToken.ThrowIfCancellationRequested(); return Preprocess(s, options?.Preprocess); }).ToList();
        return EmbedBatch(tensors, options, cancellationToken);
    }

    /// <summary>Embeds encoded images from streams without blocking.</summary>
    public Task<IReadOnlyList<DinoEmbedding>> EmbedBatchAsync(IEnumerable<Stream> streams, EmbedOptions? options = null,
                                                              CancellationToken cancellationToken = default) =>
        Task.Run(() => EmbedBatch(streams, options, cancellationToken), cancellationToken);

    /// <summary>Embeds an image file without blocking; cancellation stops the native computation.</summary>
    public Task<DinoEmbedding> EmbedAsync(string path, EmbedOptions? options = null, CancellationToken cancellationToken = default) =>
        Task.Run(() => Embed(path, options, cancellationToken), cancellationToken);

    /// <summary>Embeds an encoded image from a stream without blocking.</summary>
    public Task<DinoEmbedding> EmbedAsync(Stream stream, EmbedOptions? options = null, CancellationToken cancellationToken = default) =>
        Task.Run(() => Embed(stream, options, cancellationToken), cancellationToken);

    /// <summary>Embeds encoded image bytes without blocking.</summary>
    public Task<DinoEmbedding> EmbedAsync(ReadOnlyMemory<byte> encoded, EmbedOptions? options = null, CancellationToken cancellationToken = default) =>
        Task.Run(() => Embed(encoded, options, cancellationToken), cancellationToken);

    /// <summary>Embeds an ImageSharp image without blocking.</summary>
    public Task<DinoEmbedding> EmbedAsync(Image image, EmbedOptions? options = null, CancellationToken cancellationToken = default) =>
        Task.Run(() => Embed(image, options, cancellationToken), cancellationToken);

    /// <summary>Embeds a preprocessed tensor without blocking.</summary>
    public Task<DinoEmbedding> EmbedAsync(ImageTensor tensor, EmbedOptions? options = null, CancellationToken cancellationToken = default) =>
        Task.Run(() => Embed(tensor, options, cancellationToken), cancellationToken);

    /// <summary>Decodes and embeds image files without blocking; a bad file throws, as <see cref="EmbedBatch(IEnumerable{string}, EmbedOptions?, CancellationToken)"/> does (<see cref="EmbedEachAsync"/> does not).</summary>
    public Task<IReadOnlyList<DinoEmbedding>> EmbedBatchAsync(IEnumerable<string> paths, EmbedOptions? options = null,
                                                              CancellationToken cancellationToken = default) =>
        Task.Run(() => EmbedBatch(paths, options, cancellationToken), cancellationToken);

    /// <summary>Embeds many tensors without blocking; cancellation stops the batch in progress.</summary>
    public Task<IReadOnlyList<DinoEmbedding>> EmbedBatchAsync(IReadOnlyList<ImageTensor> tensors, EmbedOptions? options = null,
                                                              CancellationToken cancellationToken = default) =>
        Task.Run(() => EmbedBatch(tensors, options, cancellationToken), cancellationToken);

    /// <summary>
    /// Where the time goes: computes <paramref name="images"/> (one batch, all of one size) once to warm up, then
    /// <paramref name="runs"/> times with the library's own ops timed, each block's qkv, attention, proj, fc1 and fc2.
    /// Ops that run on ggml's (no kernels for this CPU or type) are in <see cref="DinoProfile.TotalSeconds"/> only.
    /// </summary>
    public unsafe DinoProfile Profile(IReadOnlyList<ImageTensor> images, int runs = 5, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (images.Count == 0) throw new ArgumentException("no images to profile", nameof(images));
        ArgumentOutOfRangeException.ThrowIfLessThan(runs, 1);
        var batch = images.ToArray();
        int height = batch[0].Height, width = batch[0].Width;
        if (batch.Any(t => t.Height != height || t.Width != width)) throw new ArgumentException("the images must have one size", nameof(images));
        var options = new EmbedOptions();
        ContextHandle ctx = Rent();
        try
        {
            Compute(batch, height, width, options, cancellationToken, ctx);  // warm-up: builds and allocates the graph
            NativeMethods.dino_context_set_profiling(ctx, 1);
            for (int i = 0; i < runs; i++) Compute(batch, height, width, options, cancellationToken, ctx);
            double total;
            int n = NativeMethods.dino_context_get_profile(ctx, null, 0, &total);
            var entries = new NativeProfileEntry[n];
            fixed (NativeProfileEntry* e = entries) NativeMethods.dino_context_get_profile(ctx, e, n, null);
            NativeMethods.dino_context_set_profiling(ctx, 0);
            return new DinoProfile(entries.Select(e => new DinoProfileEntry(NativeMethods.Utf8(e.Name) ?? "", (DinoProfileKind)e.Kind, e.Block, e.Seconds, e.Ops, (DinoPeakKind)e.PeakKind)).ToList(),
                                   total, runs * batch.Length);
        }
        finally
        {
            Return(ctx);
        }
    }

    private unsafe DinoEmbedding[] Compute(ImageTensor[] batch, int height, int width, EmbedOptions o, CancellationToken ct,
                                           ContextHandle? context = null)
    {
        ct.ThrowIfCancellationRequested();
        int n = batch.Length, D = Info.EmbeddingLength, H = Info.HeadCount, K = o.IntermediateLayers;
        int T = TokenCount(height, width);
        if (T == 0) throw new ArgumentException($"image size {width}x{height} is not a multiple of the patch size {Info.PatchSize}");
        int Q = o.Attention == AttentionOutput.Full ? T : 1;
        long image = 3L * height * width;
        var pixels = new float[checked(n * image)];
        for (int i = 0; i < n; i++) batch[i].Data.CopyTo(pixels, i * image);
        var cls = new float[n * D];
        var tokens = o.Tokens ? new float[checked((long)n * T * D)] : null;
        var attention = o.Attention != AttentionOutput.None ? new float[checked((long)n * H * Q * T)] : null;
        var intermediate = K > 0 ? new float[checked((long)n * K * T * D)] : null;

        ContextHandle ctx = context ?? Rent();
        try
        {
            using var reg = ct.CanBeCanceled ? ct.Register(ctx.RequestAbort) : default;
            DinoStatus status;
            fixed (float* px = pixels, c = cls, tk = tokens, at = attention, im = intermediate)
            {
                var outputs = NativeMethods.dino_outputs_default();
                outputs.Cls = c;
                outputs.ClsCapacity = (nuint)cls.Length;
                outputs.Tokens = tk;
                outputs.TokensCapacity = (nuint)(tokens?.Length ?? 0);
                outputs.Attention = at;
                outputs.AttentionCapacity = (nuint)(attention?.Length ?? 0);
                outputs.AttentionFull = o.Attention == AttentionOutput.Full ? (byte)1 : (byte)0;
                outputs.Intermediate = im;
                outputs.IntermediateCapacity = (nuint)(intermediate?.Length ?? 0);
                outputs.NIntermediate = K;
                status = NativeMethods.dino_compute(ctx, px, n, height, width, &outputs);
            }
            if (status == DinoStatus.Aborted) ct.ThrowIfCancellationRequested();
            Errors.ThrowIfFailed(status, ErrorSource.Native, ct);
        }
        finally
        {
            if (context is null) Return(ctx);
        }

        var results = new DinoEmbedding[n];
        int gh = height / Info.PatchSize, gw = width / Info.PatchSize;
        for (int i = 0; i < n; i++)
        {
            results[i] = new DinoEmbedding(
                cls.AsSpan(i * D, D).ToArray(), T, gh, gw, H,
                tokens?.AsSpan(i * T * D, T * D).ToArray(),
                attention?.AsSpan(i * H * Q * T, H * Q * T).ToArray(),
                intermediate?.AsSpan(i * K * T * D, K * T * D).ToArray(), K);
        }
        return results;
    }

    // ---- context pool -----------------------------------------------------------------

    private ContextHandle Rent()
    {
        ThrowIfDisposed();
        if (_contexts.TryTake(out var ctx))
        {
            Interlocked.Decrement(ref _idleContexts);
            return ctx;
        }
        var p = NativeMethods.dino_context_default_params();
        p.NThreads = _options.ThreadsPerCall;
        p.PosInterp = (int)_options.PositionInterpolation;
        p.AttentionKernel = (int)_options.Attention;
        p.MaxMemoryMb = _options.MaxComputeMemoryMB;
        return ContextHandle.Create(_handle, p);
    }

    private void Return(ContextHandle ctx)
    {
        ctx.ClearAbort();
        if (_disposed) { ctx.Dispose(); return; }
        if (Interlocked.Increment(ref _idleContexts) > _options.MaxIdleContexts)
        {
            Interlocked.Decrement(ref _idleContexts);
            ctx.Dispose();  // past the idle limit: give its memory back now
            return;
        }
        _contexts.Add(ctx);
        if (_disposed) DrainContexts();  // Dispose ran meanwhile
    }

    private void DrainContexts()
    {
        while (_contexts.TryTake(out var c))
        {
            Interlocked.Decrement(ref _idleContexts);
            c.Dispose();
        }
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    /// <summary>Frees the native model once calls in flight have finished. Calling it twice is harmless.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        DrainContexts();
        _handle.Dispose();
    }

    // ---- quantization -----------------------------------------------------------------

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
        int size = images.Count > 0 ? images[0].Height : 0;
        var pixels = new float[(long)images.Count * 3 * size * size];
        for (int i = 0; i < images.Count; i++)
        {
            var t = images[i] ?? throw new ArgumentException($"calibration image {i} is null", nameof(options));
            if (t.Height != size || t.Width != size)
                throw new ArgumentException($"calibration image {i} is {t.Width}x{t.Height}; every one must be the model's square size ({size}x{size} like the first)", nameof(options));
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
                    n.Progress = &NativeMethods.QuantizeProgress;
                    n.ProgressUserData = (void*)System.Runtime.InteropServices.GCHandle.ToIntPtr(handle);
                    var status = NativeMethods.dino_quantize_model(inputPath, outputPath, &n);
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
