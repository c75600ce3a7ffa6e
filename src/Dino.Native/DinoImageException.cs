namespace Dino;

/// <summary>An image that cannot be decoded, is too large, or is in a format that is not enabled.</summary>
public sealed class DinoImageException : DinoException
{
    /// <summary>Creates the exception.</summary>
    public DinoImageException(string message, DinoStatus status = DinoStatus.InvalidArgument, Exception? inner = null) : base(message, status, inner) { }
}
