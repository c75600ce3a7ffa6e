namespace Dino;

/// <summary>Severity of a native log line.</summary>
public enum DinoLogLevel
{
    /// <summary>Debugging detail.</summary>
    Debug = 1,
    /// <summary>Information.</summary>
    Info = 2,
    /// <summary>Something unexpected, not an error.</summary>
    Warning = 3,
    /// <summary>An error.</summary>
    Error = 4,
}
