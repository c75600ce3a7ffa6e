namespace Dino;

/// <summary>Statuses of native/dino.h (dino_status).</summary>
public enum DinoStatus
{
    /// <summary>Success.</summary>
    Ok = 0,
    /// <summary>A NULL pointer, a bad size or a buffer too small.</summary>
    InvalidArgument = -1,
    /// <summary>A file could not be opened, read or written.</summary>
    IO = -2,
    /// <summary>Not a valid DINO GGUF file.</summary>
    BadModel = -3,
    /// <summary>Valid, but not something this build can run.</summary>
    Unsupported = -4,
    /// <summary>An allocation failed or would pass the configured limit.</summary>
    OutOfMemory = -5,
    /// <summary>The computation was cancelled.</summary>
    Aborted = -6,
    /// <summary>ggml reported a failure while computing.</summary>
    Compute = -7,
    /// <summary>A bug in the native library.</summary>
    Internal = -8,
}
