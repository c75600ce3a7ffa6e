namespace Dino.Interop;

/// <summary>What the failing call was working on, to pick the exception type.</summary>
internal enum ErrorSource { Model, Image, Native }

/// <summary>The one place that turns a native status into an exception.</summary>
internal static class Errors
{
    internal static Exception FromStatus(DinoStatus status, string message, ErrorSource source, CancellationToken token = default)
    {
        if (string.IsNullOrEmpty(message)) message = $"native call failed with {status}";
        return status switch
        {
            DinoStatus.Aborted => new OperationCanceledException(message, token),
            DinoStatus.BadModel or DinoStatus.Unsupported => new DinoModelException(message, status),
            DinoStatus.IO when source == ErrorSource.Model => new DinoModelException(message, status),
            DinoStatus.InvalidArgument when source == ErrorSource.Image => new DinoImageException(message, status),
            _ => new DinoNativeException(message, status),
        };
    }

    internal static void ThrowIfFailed(DinoStatus status, ErrorSource source, CancellationToken token = default)
    {
        if (status != DinoStatus.Ok) throw FromStatus(status, NativeMethods.LastError(), source, token);
    }
}
