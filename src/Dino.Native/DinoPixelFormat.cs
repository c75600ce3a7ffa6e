namespace Dino;

/// <summary>
/// The layout of raw 8-bit pixels in memory, as cameras and video pipelines give them
/// (<see cref="DinoModel.Embed(ReadOnlySpan{byte}, int, int, int, DinoPixelFormat, EmbedOptions?, CancellationToken)"/>).
/// Rows are <c>stride</c> bytes apart (at least a row's bytes; the rest of a row is ignored).
/// </summary>
public enum DinoPixelFormat
{
    /// <summary>R, G, B: 3 bytes a pixel.</summary>
    Rgb24,
    /// <summary>B, G, R: 3 bytes a pixel (OpenCV's and most Windows capture APIs' order).</summary>
    Bgr24,
    /// <summary>R, G, B, A: 4 bytes a pixel; alpha is dropped, as PIL's convert("RGB") does.</summary>
    Rgba32,
    /// <summary>B, G, R, A: 4 bytes a pixel; alpha is dropped.</summary>
    Bgra32,
    /// <summary>One gray byte a pixel, taken as R = G = B.</summary>
    Gray8,
    /// <summary>
    /// NV12 (V4L2, GStreamer, hardware decoders): a plane of Y bytes (height rows), then a plane of interleaved
    /// U, V bytes at half resolution ((height + 1) / 2 rows), both with the same stride; width and height even or
    /// odd. BT.601, limited range (Y 16-235), as video is: C = Y - 16, D = U - 128, E = V - 128, then
    /// R = (298 C + 409 E + 128) &gt;&gt; 8, G = (298 C - 100 D - 208 E + 128) &gt;&gt; 8, B = (298 C + 516 D + 128) &gt;&gt; 8,
    /// each clamped to 0-255; each U, V pair serves its 2 x 2 pixels.
    /// </summary>
    Nv12,
    /// <summary>
    /// NV12 in full range (Y 0-255, JPEG's convention): R = Y + ((359 E + 128) &gt;&gt; 8),
    /// G = Y - ((88 D + 183 E - 128) &gt;&gt; 8), B = Y + ((454 D + 128) &gt;&gt; 8), clamped.
    /// </summary>
    Nv12FullRange,
}
