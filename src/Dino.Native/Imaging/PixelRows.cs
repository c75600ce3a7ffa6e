using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

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

    /// <summary>
    /// Rows y..y+7 into <paramref name="columns"/> as <see cref="Columns"/> lays them out for 8 lanes, all at once:
    /// for RGB24 and BGR24 on x86 with SSSE3, 16 pixels of the 8 rows are split into channels by byte shuffles and
    /// transposed by unpacks (3 stages, 8 bytes a pixel), a few instructions where the row-at-a-time path stores
    /// every byte alone. False, having done nothing, where that does not apply.
    /// </summary>
    public bool Columns8(int y, Span<byte> columns)
    {
        if (!Ssse3.IsSupported || Packed(_format) is not (3, var ri, var bi) || y + 8 > Height
            || columns.Length < 3 * Width * 8 || (long)(y + 7) * _stride + 3L * Width > _pixels.Length)
            return false;
        int w = Width, x = 0;
        ref byte src = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(_pixels);
        ref byte dst = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(columns);
        Span<Vector128<byte>> ch = stackalloc Vector128<byte>[24];  // [channel * 8 + row]: 16 pixels
        var (m0, m1, m2) = ri == 0 ? RgbMasks : BgrMasks;
        for (; x + 16 <= w && (long)(y + 7) * _stride + 3L * x + 48 <= _pixels.Length; x += 16)
        {
            for (int r = 0; r < 8; r++)
            {
                ref byte row = ref Unsafe.Add(ref src, (y + r) * _stride + 3 * x);
                var v0 = Vector128.LoadUnsafe(ref row);
                var v1 = Vector128.LoadUnsafe(ref row, 16);
                var v2 = Vector128.LoadUnsafe(ref row, 32);
                for (int c = 0; c < 3; c++)
                    ch[c * 8 + r] = Ssse3.Shuffle(v0, m0[c]) | Ssse3.Shuffle(v1, m1[c]) | Ssse3.Shuffle(v2, m2[c]);
            }
            for (int c = 0; c < 3; c++)
            {
                ref Vector128<byte> q = ref ch[c * 8];
                // Rows in pairs (bytes), fours (16-bit units), eights (32-bit units): 8 bytes a pixel, rows in order.
                var a0 = Sse2.UnpackLow(q, Unsafe.Add(ref q, 1)); var a1 = Sse2.UnpackHigh(q, Unsafe.Add(ref q, 1));
                var a2 = Sse2.UnpackLow(Unsafe.Add(ref q, 2), Unsafe.Add(ref q, 3)); var a3 = Sse2.UnpackHigh(Unsafe.Add(ref q, 2), Unsafe.Add(ref q, 3));
                var a4 = Sse2.UnpackLow(Unsafe.Add(ref q, 4), Unsafe.Add(ref q, 5)); var a5 = Sse2.UnpackHigh(Unsafe.Add(ref q, 4), Unsafe.Add(ref q, 5));
                var a6 = Sse2.UnpackLow(Unsafe.Add(ref q, 6), Unsafe.Add(ref q, 7)); var a7 = Sse2.UnpackHigh(Unsafe.Add(ref q, 6), Unsafe.Add(ref q, 7));
                var b0 = Sse2.UnpackLow(a0.AsUInt16(), a2.AsUInt16()); var b1 = Sse2.UnpackHigh(a0.AsUInt16(), a2.AsUInt16());
                var b2 = Sse2.UnpackLow(a1.AsUInt16(), a3.AsUInt16()); var b3 = Sse2.UnpackHigh(a1.AsUInt16(), a3.AsUInt16());
                var b4 = Sse2.UnpackLow(a4.AsUInt16(), a6.AsUInt16()); var b5 = Sse2.UnpackHigh(a4.AsUInt16(), a6.AsUInt16());
                var b6 = Sse2.UnpackLow(a5.AsUInt16(), a7.AsUInt16()); var b7 = Sse2.UnpackHigh(a5.AsUInt16(), a7.AsUInt16());
                ref byte o = ref Unsafe.Add(ref dst, (c * w + x) * 8);
                Sse2.UnpackLow(b0.AsUInt32(), b4.AsUInt32()).AsByte().StoreUnsafe(ref o);
                Sse2.UnpackHigh(b0.AsUInt32(), b4.AsUInt32()).AsByte().StoreUnsafe(ref o, 16);
                Sse2.UnpackLow(b1.AsUInt32(), b5.AsUInt32()).AsByte().StoreUnsafe(ref o, 32);
                Sse2.UnpackHigh(b1.AsUInt32(), b5.AsUInt32()).AsByte().StoreUnsafe(ref o, 48);
                Sse2.UnpackLow(b2.AsUInt32(), b6.AsUInt32()).AsByte().StoreUnsafe(ref o, 64);
                Sse2.UnpackHigh(b2.AsUInt32(), b6.AsUInt32()).AsByte().StoreUnsafe(ref o, 80);
                Sse2.UnpackLow(b3.AsUInt32(), b7.AsUInt32()).AsByte().StoreUnsafe(ref o, 96);
                Sse2.UnpackHigh(b3.AsUInt32(), b7.AsUInt32()).AsByte().StoreUnsafe(ref o, 112);
            }
        }
        // The last pixels (fewer than 16, or where 48 bytes would read past the span) one at a time.
        for (int r = 0; r < 8; r++)
        {
            ref byte row = ref Unsafe.Add(ref src, (y + r) * _stride);
            for (int p = x; p < w; p++)
            {
                Unsafe.Add(ref dst, p * 8 + r) = Unsafe.Add(ref row, 3 * p + ri);
                Unsafe.Add(ref dst, (w + p) * 8 + r) = Unsafe.Add(ref row, 3 * p + 1);
                Unsafe.Add(ref dst, (2 * w + p) * 8 + r) = Unsafe.Add(ref row, 3 * p + bi);
            }
        }
        return true;
    }

    // pshufb masks taking channel c (R, G, B) of 16 3-byte pixels from the 48 bytes' three vectors: byte i is
    // source byte 3i + (R's, G's or B's offset), from the vector that holds it; 0x80 gives 0 (ORed away).
    private static readonly (Vector128<byte>[], Vector128<byte>[], Vector128<byte>[]) RgbMasks = MakeMasks(0, 2), BgrMasks = MakeMasks(2, 0);

    private static (Vector128<byte>[], Vector128<byte>[], Vector128<byte>[]) MakeMasks(int ri, int bi)
    {
        var m = new Vector128<byte>[3][];
        for (int v = 0; v < 3; v++)
        {
            m[v] = new Vector128<byte>[3];
            int c = 0;
            foreach (int offset in new[] { ri, 1, bi })
            {
                var bytes = new byte[16];
                for (int i = 0; i < 16; i++)
                {
                    int at = 3 * i + offset - 16 * v;
                    bytes[i] = at is >= 0 and < 16 ? (byte)at : (byte)0x80;
                }
                m[v][c++] = Vector128.Create(bytes);
            }
        }
        return (m[0], m[1], m[2]);
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
