using Dino.Interop;

namespace Dino;

/// <summary>Base of every error Dino.Native reports.</summary>
public class DinoException : Exception
{
    /// <summary>The native status behind the error, or <see cref="DinoStatus.Ok"/> for managed-side errors.</summary>
    public DinoStatus Status { get; }

    /// <summary>Creates an exception with a message and the native status.</summary>
    public DinoException(string message, DinoStatus status = DinoStatus.Ok, Exception? inner = null) : base(message, inner) => Status = status;
}

/// <summary>A model file that is missing, unreadable, corrupt or not a DINO GGUF.</summary>
public sealed class DinoModelException : DinoException
{
    /// <summary>Creates the exception.</summary>
    public DinoModelException(string message, DinoStatus status = DinoStatus.BadModel, Exception? inner = null) : base(message, status, inner) { }
}

/// <summary>An image that cannot be decoded, is too large, or is in a format that is not enabled.</summary>
public sealed class DinoImageException : DinoException
{
    /// <summary>Creates the exception.</summary>
    public DinoImageException(string message, DinoStatus status = DinoStatus.InvalidArgument, Exception? inner = null) : base(message, status, inner) { }
}

/// <summary>The native library could not be loaded, or failed while computing.</summary>
public sealed class DinoNativeException : DinoException
{
    /// <summary>Creates the exception.</summary>
    public DinoNativeException(string message, DinoStatus status = DinoStatus.Internal, Exception? inner = null) : base(message, status, inner) { }
}
