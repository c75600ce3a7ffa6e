using System.Numerics;
using System.Runtime.CompilerServices;

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

    /// <summary>
    /// Row y's channel values into <paramref name="columns"/> as lane <paramref name="lane"/> of <paramref name="lanes"/>
    /// rows: channel c of pixel x at [(c * Width + x) * lanes + lane] (the layout the resize's horizontal pass reads).
    /// </summary>
    public void Columns(int y, Span<byte> scratch, Span<byte> columns, int lane, int lanes)
    {
        // Straight from the packed formats (one pass), through an RGB row for the others.
        var (step, ri, bi) = Packed(_format) ?? (3, 0, 2);
        ReadOnlySpan<byte> row = Packed(_format) is null ? Rgb(y, scratch) : _pixels.Slice(y * _stride, Width * step);
        if (columns.Length < (3 * Width - 1) * lanes + lane + 1 || row.Length < (Width - 1) * step + Math.Max(ri, bi) + 1)
            throw new ArgumentException("columns too small for the row");
        // Unchecked: 2 million pixels a 1080p frame, bounds checked once above.
        ref byte src = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(row);
        ref byte r = ref Unsafe.Add(ref System.Runtime.InteropServices.MemoryMarshal.GetReference(columns), lane);
        ref byte g = ref Unsafe.Add(ref r, Width * lanes);
        ref byte b = ref Unsafe.Add(ref g, Width * lanes);
        for (int x = 0, p = 0, q = 0; x < Width; x++, p += step, q += lanes)
        {
            Unsafe.Add(ref r, q) = Unsafe.Add(ref src, p + ri);
            Unsafe.Add(ref g, q) = Unsafe.Add(ref src, p + 1);
            Unsafe.Add(ref b, q) = Unsafe.Add(ref src, p + bi);
        }
    }

    // BT.601 in 8-bit fixed point. Vector<int>.Count pixels at a time (a pixel pair shares a chroma sample: the
    // chroma ints, read as longs, are split into U and V each repeated twice), the rest one at a time.
    private void Nv12Row(ReadOnlySpan<byte> luma, ReadOnlySpan<byte> chroma, Span<byte> rgb, bool fullRange)
    {
        int w = Width, lanes = Vector<int>.Count, x = 0;
        Span<int> r = stackalloc int[lanes], g = stackalloc int[lanes], b = stackalloc int[lanes], y8 = stackalloc int[lanes], c8 = stackalloc int[lanes];
        var low = new Vector<ulong>(0xFFFF_FFFFUL);
        for (; x + lanes <= w; x += lanes)
        {
            for (int i = 0; i < lanes; i++) (y8[i], c8[i]) = (luma[x + i], chroma[x + i]);
            var pairs = Vector.AsVectorUInt64(new Vector<int>(c8));
            var d = Vector.AsVectorInt32((pairs & low) | (pairs << 32)) - new Vector<int>(128);
            var e = Vector.AsVectorInt32((pairs >> 32) | (pairs & ~low)) - new Vector<int>(128);
            var y = new Vector<int>(y8);
            Vector<int> vr, vg, vb;
            if (fullRange)
            {
                vr = y + Vector.ShiftRightArithmetic(e * 359 + new Vector<int>(128), 8);
                vg = y - Vector.ShiftRightArithmetic(d * 88 + e * 183 - new Vector<int>(128), 8);
                vb = y + Vector.ShiftRightArithmetic(d * 454 + new Vector<int>(128), 8);
            }
            else
            {
                var c = (y - new Vector<int>(16)) * 298 + new Vector<int>(128);
                vr = Vector.ShiftRightArithmetic(c + e * 409, 8);
                vg = Vector.ShiftRightArithmetic(c - d * 100 - e * 208, 8);
                vb = Vector.ShiftRightArithmetic(c + d * 516, 8);
            }
            Vector.Min(Vector.Max(vr, Vector<int>.Zero), new Vector<int>(255)).CopyTo(r);
            Vector.Min(Vector.Max(vg, Vector<int>.Zero), new Vector<int>(255)).CopyTo(g);
            Vector.Min(Vector.Max(vb, Vector<int>.Zero), new Vector<int>(255)).CopyTo(b);
            for (int i = 0; i < lanes; i++) (rgb[3 * (x + i)], rgb[3 * (x + i) + 1], rgb[3 * (x + i) + 2]) = ((byte)r[i], (byte)g[i], (byte)b[i]);
        }
        for (; x < w; x++)
        {
            int d = chroma[x & ~1] - 128, e = chroma[(x & ~1) + 1] - 128;
            int vr, vg, vb;
            if (fullRange)
            {
                int y = luma[x];
                vr = y + ((359 * e + 128) >> 8);
                vg = y - ((88 * d + 183 * e - 128) >> 8);
                vb = y + ((454 * d + 128) >> 8);
            }
            else
            {
                int c = 298 * (luma[x] - 16) + 128;
                vr = (c + 409 * e) >> 8;
                vg = (c - 100 * d - 208 * e) >> 8;
                vb = (c + 516 * d) >> 8;
            }
            rgb[3 * x] = (byte)Math.Clamp(vr, 0, 255);
            rgb[3 * x + 1] = (byte)Math.Clamp(vg, 0, 255);
            rgb[3 * x + 2] = (byte)Math.Clamp(vb, 0, 255);
        }
    }
}
