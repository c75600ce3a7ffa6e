namespace Dino.Imaging;

/// <summary>
/// Raw pixels in memory, read a row at a time as RGB bytes: what the resize reads (PilResize), so that a
/// frame in any <see cref="DinoPixelFormat"/> is converted row by row as it is resized, never copied whole.
/// </summary>
internal readonly ref struct PixelRows
{
    private readonly ReadOnlySpan<byte> _pixels;
    private readonly int _stride;
    private readonly DinoPixelFormat _format;

    public int Width { get; }
    public int Height { get; }

    public PixelRows(ReadOnlySpan<byte> pixels, int width, int height, int stride, DinoPixelFormat format)
    {
        if (!Enum.IsDefined(format)) throw new ArgumentOutOfRangeException(nameof(format), format, "not a DinoPixelFormat value");
        if (width < 1 || height < 1) throw new ArgumentOutOfRangeException(nameof(width), $"the frame is {width}x{height}: it needs pixels");
        int bytesPerPixel = Packed(format)?.Step ?? 1;
        long row = (long)width * bytesPerPixel;
        if (stride < row) throw new ArgumentOutOfRangeException(nameof(stride), stride, $"a row of {width} {format} pixels takes {row} bytes; the stride must be at least that");
        long rows = IsNv12(format) ? height + (height + 1) / 2 : height;
        long needed = (rows - 1) * stride + (IsNv12(format) ? ((width + 1) & ~1) : row);
        if (pixels.Length < needed)
            throw new ArgumentException($"{width}x{height} {format} pixels with a stride of {stride} need {needed} bytes; the span holds {pixels.Length}", nameof(pixels));
        _pixels = pixels;
        (Width, Height, _stride, _format) = (width, height, stride, format);
    }

    /// <summary>Plain interleaved RGB bytes.</summary>
    public PixelRows(byte[] rgb, int width, int height) : this(rgb, width, height, width * 3, DinoPixelFormat.Rgb24) { }

    private static bool IsNv12(DinoPixelFormat f) => f is DinoPixelFormat.Nv12 or DinoPixelFormat.Nv12FullRange;

    // The formats with R, G, B in each pixel's bytes: bytes a pixel, and where R and B are (G is always byte 1).
    private static (int Step, int R, int B)? Packed(DinoPixelFormat f) => f switch
    {
        DinoPixelFormat.Rgb24 => (3, 0, 2),
        DinoPixelFormat.Bgr24 => (3, 2, 0),
        DinoPixelFormat.Rgba32 => (4, 0, 2),
        DinoPixelFormat.Bgra32 => (4, 2, 0),
        _ => null,
    };

    /// <summary>Row y as RGB: the pixels themselves where they are RGB already, else converted into <paramref name="scratch"/> (3 x Width bytes).</summary>
    public ReadOnlySpan<byte> Rgb(int y, Span<byte> scratch)
    {
        ReadOnlySpan<byte> row = _pixels.Slice(y * _stride);
        int w = Width;
        if (_format == DinoPixelFormat.Rgb24) return row[..(3 * w)];
        if (Packed(_format) is var (step, ri, bi))
        {
            for (int x = 0, p = 0; x < w; x++, p += step) (scratch[3 * x], scratch[3 * x + 1], scratch[3 * x + 2]) = (row[p + ri], row[p + 1], row[p + bi]);
        }
        else if (_format == DinoPixelFormat.Gray8)
        {
            for (int x = 0; x < w; x++) scratch[3 * x] = scratch[3 * x + 1] = scratch[3 * x + 2] = row[x];
        }
        else
        {
            Nv12Row(row, _pixels.Slice((Height + y / 2) * _stride), scratch, _format == DinoPixelFormat.Nv12FullRange);
        }
        return scratch[..(3 * w)];
    }

    /// <summary>Row y as three planes of channel values (what the resize's vectorized horizontal pass reads).</summary>
    public void Planes(int y, Span<byte> scratch, Span<int> r, Span<int> g, Span<int> b)
    {
        // Straight from the packed formats (one pass), through an RGB row for the others.
        var (step, ri, bi) = Packed(_format) ?? (3, 0, 2);
        ReadOnlySpan<byte> row = Packed(_format) is null ? Rgb(y, scratch) : _pixels.Slice(y * _stride, Width * step);
        for (int x = 0, p = 0; x < Width; x++, p += step)
        {
            r[x] = row[p + ri];
            g[x] = row[p + 1];
            b[x] = row[p + bi];
        }
    }

    private void Nv12Row(ReadOnlySpan<byte> luma, ReadOnlySpan<byte> chroma, Span<byte> rgb, bool fullRange)
    {
        for (int x = 0; x < Width; x++)
        {
            int d = chroma[x & ~1] - 128, e = chroma[(x & ~1) + 1] - 128;
            int r, g, b;
            if (fullRange)
            {
                int y = luma[x];
                r = y + ((359 * e + 128) >> 8);
                g = y - ((88 * d + 183 * e - 128) >> 8);
                b = y + ((454 * d + 128) >> 8);
            }
            else
            {
                int c = luma[x] - 16;
                r = (298 * c + 409 * e + 128) >> 8;
                g = (298 * c - 100 * d - 208 * e + 128) >> 8;
                b = (298 * c + 516 * d + 128) >> 8;
            }
            rgb[3 * x] = (byte)Math.Clamp(r, 0, 255);
            rgb[3 * x + 1] = (byte)Math.Clamp(g, 0, 255);
            rgb[3 * x + 2] = (byte)Math.Clamp(b, 0, 255);
        }
    }
}
