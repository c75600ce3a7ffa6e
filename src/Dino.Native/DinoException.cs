namespace Dino;

/// <summary>Base of every error Dino.Native reports.</summary>
public class DinoException : Exception
{
    /// <summary>The native status behind the error, or <see cref="DinoStatus.Ok"/> for managed-side errors.</summary>
    public DinoStatus Status { get; }

    /// <summary>Creates an exception with a message and the native status.</summary>
    public DinoException(string message, DinoStatus status = DinoStatus.Ok, Exception? inner = null) : base(message, inner) => Status = status;
}
