namespace Dino;

/// <summary>Limits on images taken from places nobody controls.</summary>
public sealed record ImageLimits
{
    /// <summary>Largest width x height accepted, checked from the header before decoding (default 50 million).</summary>
    public long MaxPixels { get; init; } = 50_000_000;

    /// <summary>Most memory one decode may hold (default 512 MiB).</summary>
    public long MaxDecodeBytes { get; init; } = 512L << 20;

    /// <summary>Largest encoded file or stream accepted (default 256 MiB).</summary>
    public long MaxEncodedBytes { get; init; } = 256L << 20;
}
