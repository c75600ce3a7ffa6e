namespace Dino.Interop;

/// <summary>What dino_quantize_model's progress callback reaches: the caller's progress and cancellation.</summary>
internal sealed class QuantizeCallbackState(IProgress<QuantizeProgress>? progress, CancellationToken token)
{
    // Never throws into native code: a throwing IProgress is the caller's bug, so it stops the work instead.
    internal bool Report(string stage, int done, int total)
    {
        if (token.IsCancellationRequested) return false;
        try { progress?.Report(new QuantizeProgress(stage, done, total)); return true; }
        catch (Exception) { return false; }
    }
}
