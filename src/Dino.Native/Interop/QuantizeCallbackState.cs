namespace Dino.Interop;

/// <summary>What dino_quantize_model's progress callback reaches: the caller's progress and cancellation.</summary>
internal sealed class QuantizeCallbackState(IProgress<QuantizeProgress>? progress, CancellationToken token)
{
    private System.Runtime.ExceptionServices.ExceptionDispatchInfo? _progressFailure;

    // Never throws into native code: a throwing IProgress stops the work, and ThrowIfProgressFailed rethrows
    // its exception once the native call has returned (not as a cancellation).
    internal bool Report(string stage, int done, int total)
    {
        if (token.IsCancellationRequested) return false;
        try { progress?.Report(new QuantizeProgress(stage, done, total)); return true; }
        catch (Exception e)
        {
            _progressFailure = System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e);
            return false;
        }
    }

    internal void ThrowIfProgressFailed() => _progressFailure?.Throw();
}
