namespace Dino;

/// <summary>A model file that is missing, unreadable, corrupt or not a DINO GGUF.</summary>
public sealed class DinoModelException : DinoException
{
    /// <summary>Creates the exception.</summary>
    public DinoModelException(string message, DinoStatus status = DinoStatus.BadModel, Exception? inner = null) : base(message, status, inner) { }
}
