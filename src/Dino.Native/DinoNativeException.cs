namespace Dino;

/// <summary>The native library could not be loaded, or failed while computing.</summary>
public sealed class DinoNativeException : DinoException
{
    /// <summary>Creates the exception.</summary>
    public DinoNativeException(string message, DinoStatus status = DinoStatus.Internal, Exception? inner = null) : base(message, status, inner) { }
}
