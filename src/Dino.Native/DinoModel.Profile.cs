using Dino.Interop;

namespace Dino;

public sealed partial class DinoModel
{
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
        ContextHandle ctx = _pool.Rent();
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
            _pool.Return(ctx);
        }
    }
}
