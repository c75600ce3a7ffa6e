using Dino.Interop;

namespace Dino;

public sealed partial class DinoModel
{
    /// <summary>Embeds an image file.</summary>
    public DinoEmbedding Embed(string path, EmbedOptions? options = null, CancellationToken cancellationToken = default) =>
        Embed(Preprocess(path, Checked(options).Preprocess), options, cancellationToken);

    /// <summary>Embeds an encoded image read from a stream.</summary>
    public DinoEmbedding Embed(Stream stream, EmbedOptions? options = null, CancellationToken cancellationToken = default) =>
        Embed(Preprocess(stream, Checked(options).Preprocess), options, cancellationToken);

    /// <summary>Embeds encoded image bytes.</summary>
    public DinoEmbedding Embed(ReadOnlyMemory<byte> encoded, EmbedOptions? options = null, CancellationToken cancellationToken = default) =>
        Embed(Preprocess(encoded, Checked(options).Preprocess), options, cancellationToken);

    /// <summary>
    /// Embeds raw pixels from memory: a camera frame or a video decoder's output, with its row stride, in any
    /// <see cref="DinoPixelFormat"/> (see <see cref="Preprocess(ReadOnlySpan{byte}, int, int, int, DinoPixelFormat, PreprocessOptions?)"/>).
    /// </summary>
    public DinoEmbedding Embed(ReadOnlySpan<byte> pixels, int width, int height, int stride, DinoPixelFormat format,
                               EmbedOptions? options = null, CancellationToken cancellationToken = default) =>
        Embed(Preprocess(pixels, width, height, stride, format, Checked(options).Preprocess), options, cancellationToken);

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
        options = Checked(options);
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
        return BatchByBatch(paths, p => Preprocess(p, options?.Preprocess), options, cancellationToken);
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
        Checked(options);
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

    /// <summary>The options of a call, checked before any input is read (null: the defaults).</summary>
    private EmbedOptions Checked(EmbedOptions? options)
    {
        options ??= new EmbedOptions();
        options.Validate(Info.BlockCount, Info.RegisterCount);
        return options;
    }

    private IEnumerable<(int index, string source, Func<ImageTensor> read)> Numbered(IEnumerable<string> paths, EmbedOptions? options)
    {
        Checked(options);  // (at the first input: this runs when the caller's loop starts)
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

    // Inputs decoded and computed MaxBatchSize at a time, so memory holds one batch's tensors whatever the
    // number of inputs; the first bad input throws.
    private List<DinoEmbedding> BatchByBatch<T>(IEnumerable<T> inputs, Func<T, ImageTensor> read, EmbedOptions? options, CancellationToken ct)
    {
        Checked(options);
        var results = new List<DinoEmbedding>();
        foreach (var chunk in inputs.Chunk(_options.MaxBatchSize))
        {
            var tensors = new ImageTensor[chunk.Length];
            for (int i = 0; i < chunk.Length; i++)
            {
                ct.ThrowIfCancellationRequested();
                tensors[i] = read(chunk[i]);
            }
            results.AddRange(EmbedBatch(tensors, options, ct));
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
        return BatchByBatch(streams, s => Preprocess(s, options?.Preprocess), options, cancellationToken);
    }

    /// <summary>Embeds encoded images from streams without blocking.</summary>
    /// <remarks>The work runs on a thread-pool thread (Task.Run): the caller's thread is free, a pool thread is busy for the whole computation.</remarks>
    public Task<IReadOnlyList<DinoEmbedding>> EmbedBatchAsync(IEnumerable<Stream> streams, EmbedOptions? options = null,
                                                              CancellationToken cancellationToken = default) =>
        Task.Run(() => EmbedBatch(streams, options, cancellationToken), cancellationToken);

    /// <summary>Embeds an image file without blocking; cancellation stops the native computation.</summary>
    /// <remarks>The work runs on a thread-pool thread (Task.Run): the caller's thread is free, a pool thread is busy for the whole computation.</remarks>
    public Task<DinoEmbedding> EmbedAsync(string path, EmbedOptions? options = null, CancellationToken cancellationToken = default) =>
        Task.Run(() => Embed(path, options, cancellationToken), cancellationToken);

    /// <summary>Embeds an encoded image from a stream without blocking.</summary>
    /// <remarks>The work runs on a thread-pool thread (Task.Run): the caller's thread is free, a pool thread is busy for the whole computation.</remarks>
    public Task<DinoEmbedding> EmbedAsync(Stream stream, EmbedOptions? options = null, CancellationToken cancellationToken = default) =>
        Task.Run(() => Embed(stream, options, cancellationToken), cancellationToken);

    /// <summary>Embeds encoded image bytes without blocking.</summary>
    /// <remarks>The work runs on a thread-pool thread (Task.Run): the caller's thread is free, a pool thread is busy for the whole computation.</remarks>
    public Task<DinoEmbedding> EmbedAsync(ReadOnlyMemory<byte> encoded, EmbedOptions? options = null, CancellationToken cancellationToken = default) =>
        Task.Run(() => Embed(encoded, options, cancellationToken), cancellationToken);

    /// <summary>Embeds a preprocessed tensor without blocking.</summary>
    /// <remarks>The work runs on a thread-pool thread (Task.Run): the caller's thread is free, a pool thread is busy for the whole computation.</remarks>
    public Task<DinoEmbedding> EmbedAsync(ImageTensor tensor, EmbedOptions? options = null, CancellationToken cancellationToken = default) =>
        Task.Run(() => Embed(tensor, options, cancellationToken), cancellationToken);

    /// <summary>Decodes and embeds image files without blocking; a bad file throws, as <see cref="EmbedBatch(IEnumerable{string}, EmbedOptions?, CancellationToken)"/> does (<see cref="EmbedEachAsync"/> does not).</summary>
    /// <remarks>The work runs on a thread-pool thread (Task.Run): the caller's thread is free, a pool thread is busy for the whole computation.</remarks>
    public Task<IReadOnlyList<DinoEmbedding>> EmbedBatchAsync(IEnumerable<string> paths, EmbedOptions? options = null,
                                                              CancellationToken cancellationToken = default) =>
        Task.Run(() => EmbedBatch(paths, options, cancellationToken), cancellationToken);

    /// <summary>Embeds many tensors without blocking; cancellation stops the batch in progress.</summary>
    /// <remarks>The work runs on a thread-pool thread (Task.Run): the caller's thread is free, a pool thread is busy for the whole computation.</remarks>
    public Task<IReadOnlyList<DinoEmbedding>> EmbedBatchAsync(IReadOnlyList<ImageTensor> tensors, EmbedOptions? options = null,
                                                              CancellationToken cancellationToken = default) =>
        Task.Run(() => EmbedBatch(tensors, options, cancellationToken), cancellationToken);

    private DinoEmbedding[] Compute(ImageTensor[] batch, int height, int width, EmbedOptions o, CancellationToken ct,
                                           ContextHandle? context = null)
    {
        ct.ThrowIfCancellationRequested();
        int n = batch.Length, D = Info.EmbeddingLength, H = Info.HeadCount, K = o.IntermediateLayers;
        int T = TokenCount(height, width);
        if (T == 0)
        {
            throw new ArgumentException(height > PreprocessOptions.MaxSide || width > PreprocessOptions.MaxSide
                ? $"image size {width}x{height} is more than {PreprocessOptions.MaxSide} pixels a side, the largest the engine computes"
                : $"image size {width}x{height} is not a multiple of the patch size {Info.PatchSize}");
        }
        int Q = o.Attention == AttentionOutput.Full ? T : 1;
        long image = 3L * height * width;
        CheckOutputSizes(n, image, T, Q, o);
        var pixels = new float[checked(n * image)];
        for (int i = 0; i < n; i++) batch[i].Data.CopyTo(pixels, i * image);
        var cls = new float[n * D];
        var tokens = o.Tokens ? new float[checked((long)n * T * D)] : null;
        var attention = o.Attention != AttentionOutput.None ? new float[checked((long)n * H * Q * T)] : null;
        var intermediate = K > 0 ? new float[checked((long)n * K * T * D)] : null;
        int R = Info.RegisterCount;
        var registers = o.Registers ? new float[checked((long)n * R * D)] : null;

        var buffers = new ComputeBuffers
        {
            Cls = cls, Tokens = tokens, Attention = attention, AttentionFull = o.Attention == AttentionOutput.Full,
            Intermediate = intermediate, IntermediateLayers = K, Registers = registers,
        };
        ContextHandle ctx = context ?? _pool.Rent();
        try
        {
            ctx.Compute(pixels, n, height, width, buffers, ct);
        }
        finally
        {
            if (context is null) _pool.Return(ctx);
        }

        var results = new DinoEmbedding[n];
        int gh = height / Info.PatchSize, gw = width / Info.PatchSize;
        for (int i = 0; i < n; i++)
        {
            results[i] = new DinoEmbedding(
                cls.AsSpan(i * D, D).ToArray(), T, gh, gw, H,
                tokens?.AsSpan(i * T * D, T * D).ToArray(),
                attention?.AsSpan(i * H * Q * T, H * Q * T).ToArray(),
                intermediate?.AsSpan(i * K * T * D, K * T * D).ToArray(), K,
                registers?.AsSpan(i * R * D, R * D).ToArray());
        }
        return results;
    }

    // The input and the outputs asked for, checked before any is allocated: each must fit in one .NET array,
    // and together within MaxComputeMemoryMB (the native compute holds at least as much again).
    private void CheckOutputSizes(int n, long image, int T, int Q, EmbedOptions o)
    {
        long D = Info.EmbeddingLength, H = Info.HeadCount, K = o.IntermediateLayers;
        var arrays = new (string what, double floats)[]
        {
            ("the input pixels", (double)n * image),
            ("the tokens", o.Tokens ? (double)n * T * D : 0),
            (o.Attention == AttentionOutput.Full ? "the full attention maps" : "the attention maps", o.Attention != AttentionOutput.None ? (double)n * H * Q * T : 0),
            ("the intermediate layers", (double)n * K * T * D),
        };
        string call = $"{n} image(s) of {T} tokens";
        foreach (var (what, floats) in arrays)
            if (floats > Array.MaxLength)
                throw new ArgumentException($"{what} of {call} would be {floats:0} values, more than one .NET array holds ({Array.MaxLength}): ask for fewer images, a smaller size or fewer outputs");
        double mb = arrays.Sum(a => a.floats) * 4 / (1 << 20);
        if (_options.MaxComputeMemoryMB > 0 && mb > _options.MaxComputeMemoryMB)  // (the native guard's exception, before its call)
            throw new DinoNativeException($"the input and outputs of {call} need {mb:0} MB, more than MaxComputeMemoryMB ({_options.MaxComputeMemoryMB}): ask for fewer images, a smaller size or fewer outputs", DinoStatus.OutOfMemory);
    }
}
