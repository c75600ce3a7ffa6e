using System.Numerics;

namespace Dino.Imaging;

/// <summary>
/// Image resizing as Pillow's Image.resize does it for 8-bit images, so that
/// our tensors match what the Python processors feed the model: a separable
/// convolution whose kernel is widened by the scale when shrinking
/// (antialiasing), coefficients normalized per output pixel and held as 22-bit
/// fixed point, a horizontal pass rounded to bytes, then a vertical pass.
/// </summary>
/// <remarks>
/// Written from Pillow's documented behaviour and its Resample.c (the
/// algorithm, not the code): bilinear is the triangle filter with support 1,
/// bicubic the cubic convolution with a = -0.5 and support 2.
/// </remarks>
internal static class PilResize
{
    private const int PrecisionBits = 32 - 8 - 2;

    private static double Bilinear(double x)
    {
        x = Math.Abs(x);
        return x < 1.0 ? 1.0 - x : 0.0;
    }

    private static double Bicubic(double x)
    {
        const double a = -0.5;
        x = Math.Abs(x);
        if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
        if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
        return 0.0;
    }

    /// <summary>Per output pixel: first input index, count, and fixed-point weights (ksize each).</summary>
    private static (int[] bounds, int[] weights, int ksize) Coefficients(int inSize, int outSize, ResampleFilter filter)
    {
        Func<double, double> f = filter == ResampleFilter.Bicubic ? Bicubic : Bilinear;
        double support0 = filter == ResampleFilter.Bicubic ? 2.0 : 1.0;
        double scale = (double)inSize / outSize;
        double filterScale = Math.Max(scale, 1.0);
        double support = support0 * filterScale;
        int ksize = (int)Math.Ceiling(support) * 2 + 1;
        var bounds = new int[outSize * 2];
        var weights = new int[outSize * ksize];
        var k = new double[ksize];
        for (int xx = 0; xx < outSize; xx++)
        {
            double center = (xx + 0.5) * scale;
            double ss = 1.0 / filterScale;
            int xmin = Math.Max((int)(center - support + 0.5), 0);
            int xmax = Math.Min((int)(center + support + 0.5), inSize) - xmin;
            double ww = 0.0;
            for (int x = 0; x < xmax; x++)
            {
                k[x] = f((x + xmin - center + 0.5) * ss);
                ww += k[x];
            }
            for (int x = 0; x < xmax; x++)
            {
                double w = ww != 0.0 ? k[x] / ww : k[x];
                weights[xx * ksize + x] = w < 0 ? (int)(-0.5 + w * (1 << PrecisionBits)) : (int)(0.5 + w * (1 << PrecisionBits));
            }
            bounds[xx * 2] = xmin;
            bounds[xx * 2 + 1] = xmax;
        }
        return (bounds, weights, ksize);
    }

    private static byte Clip8(int v)
    {
        v >>= PrecisionBits;
        return v < 0 ? (byte)0 : v > 255 ? (byte)255 : (byte)v;
    }

    /// <summary>Resizes pixels (w x h, read a row at a time) to interleaved RGB bytes (outW x outH).</summary>
    internal static byte[] Resize(PixelRows src, int outW, int outH, ResampleFilter filter)
    {
        int h = src.Height;
        var (vb, vk, vks) = Coefficients(h, outH, filter);
        // The horizontal pass, on only the rows the vertical pass reads (all of them at the same height).
        int first = outH == h ? 0 : vb[0], last = outH == h ? h : vb[(outH - 1) * 2] + vb[(outH - 1) * 2 + 1];
        byte[] temp = Horizontal(src, first, last - first, outW, filter);
        if (outH == h) return temp;
        for (int i = 0; i < outH; i++) vb[i * 2] -= first;
        return Vertical(temp, outW * 3, outH, vb, vk, vks);
    }

    // Rows first..first+rows-1 resized to outW pixels, Vector<int>.Count rows at a time. The channels of those rows
    // are laid out pixel by pixel with the rows of a pixel side by side ([channel][x][row] bytes), so that one
    // Vector<byte> holds four taps of them all, widened to four Vector<int>s, each a multiply-add; no lane is ever
    // summed across. Int arithmetic is exact in any order: the sums are Pillow's, bit for bit (below 2^31).
    private static byte[] Horizontal(PixelRows src, int first, int rows, int outW, ResampleFilter filter)
    {
        int w = src.Width, stride = outW * 3;
        var temp = new byte[stride * rows];
        var scratch = new byte[3 * w];  // one source row, where the pixels are not RGB already
        if (outW == w)
        {
            for (int y = 0; y < rows; y++) src.Rgb(y + first, scratch).CopyTo(temp.AsSpan(y * stride));
            return temp;
        }
        var (hb, hk, hks) = Coefficients(w, outW, filter);
        // Taps four at a time: each pixel's weights padded with zeros to a multiple of 4, and the columns with
        // 4 pixels more, so that a last group of four never reads past them (the extra taps weigh nothing).
        int lanes = Vector<int>.Count, ks4 = (hks + 3) & ~3;
        var k4 = new int[outW * ks4];
        for (int xx = 0; xx < outW; xx++) hk.AsSpan(xx * hks, hb[xx * 2 + 1]).CopyTo(k4.AsSpan(xx * ks4));
        var columns = new byte[(3 * w + 4) * lanes];
        Span<int> sums = stackalloc int[lanes];
        for (int y0 = 0; y0 < rows; y0 += lanes)
        {
            int n = Math.Min(lanes, rows - y0);  // in the last block, the other lanes hold earlier rows: computed, not kept
            if (n < lanes || lanes != 8 || !src.Columns8(y0 + first, columns))
                for (int r = 0; r < n; r++) src.Columns(y0 + first + r, scratch, columns, r, lanes);
            for (int xx = 0; xx < outW; xx++)
            {
                int xmin = hb[xx * 2], taps = (hb[xx * 2 + 1] + 3) & ~3;
                ReadOnlySpan<int> k = k4.AsSpan(xx * ks4, taps);
                for (int c = 0; c < 3; c++)
                {
                    Vector<int> a0 = Bias, a1 = Vector<int>.Zero, a2 = Vector<int>.Zero, a3 = Vector<int>.Zero;
                    ReadOnlySpan<byte> tap = columns.AsSpan((c * w + xmin) * lanes, taps * lanes);
                    for (int t = 0; t < taps; t += 4)
                    {
                        Vector.Widen(new Vector<byte>(tap.Slice(t * lanes)), out Vector<ushort> lo, out Vector<ushort> hi);
                        Vector.Widen(lo, out Vector<uint> u0, out Vector<uint> u1);
                        Vector.Widen(hi, out Vector<uint> u2, out Vector<uint> u3);
                        a0 += Vector.AsVectorInt32(u0) * k[t];
                        a1 += Vector.AsVectorInt32(u1) * k[t + 1];
                        a2 += Vector.AsVectorInt32(u2) * k[t + 2];
                        a3 += Vector.AsVectorInt32(u3) * k[t + 3];
                    }
                    Clip8(a0 + a1 + (a2 + a3)).CopyTo(sums);
                    for (int r = 0; r < n; r++) temp[(y0 + r) * stride + xx * 3 + c] = (byte)sums[r];
                }
            }
        }
        return temp;
    }

    // The vertical pass over the horizontal pass's rows (stride bytes each): Vector<byte>.Count bytes of a row at a
    // time, widened to ints, each tap a multiply-add.
    private static byte[] Vertical(byte[] temp, int stride, int outH, int[] bounds, int[] weights, int ksize)
    {
        var dst = new byte[stride * outH];
        int chunk = Vector<byte>.Count;
        for (int yy = 0; yy < outH; yy++)
        {
            int ymin = bounds[yy * 2], taps = bounds[yy * 2 + 1];
            ReadOnlySpan<int> k = weights.AsSpan(yy * ksize, taps);
            int x = 0;
            for (; x + chunk <= stride; x += chunk)
            {
                Vector<int> a0 = Bias, a1 = Bias, a2 = Bias, a3 = Bias;
                for (int t = 0; t < taps; t++)
                {
                    Vector.Widen(new Vector<byte>(temp.AsSpan((ymin + t) * stride + x, chunk)), out Vector<ushort> lo, out Vector<ushort> hi);
                    Vector.Widen(lo, out Vector<uint> u0, out Vector<uint> u1);
                    Vector.Widen(hi, out Vector<uint> u2, out Vector<uint> u3);
                    a0 += Vector.AsVectorInt32(u0) * k[t];
                    a1 += Vector.AsVectorInt32(u1) * k[t];
                    a2 += Vector.AsVectorInt32(u2) * k[t];
                    a3 += Vector.AsVectorInt32(u3) * k[t];
                }
                var bytes = Vector.Narrow(Vector.Narrow(Vector.AsVectorUInt32(Clip8(a0)), Vector.AsVectorUInt32(Clip8(a1))),
                                          Vector.Narrow(Vector.AsVectorUInt32(Clip8(a2)), Vector.AsVectorUInt32(Clip8(a3))));
                bytes.CopyTo(dst.AsSpan(yy * stride + x));
            }
            for (; x < stride; x++)
            {
                int s = 1 << (PrecisionBits - 1);
                for (int t = 0; t < taps; t++) s += temp[(ymin + t) * stride + x] * k[t];
                dst[yy * stride + x] = Clip8(s);
            }
        }
        return dst;
    }

    // Pillow's rounding: 2^(PrecisionBits - 1) added to every sum before the shift.
    private static readonly Vector<int> Bias = new(1 << (PrecisionBits - 1));

    private static Vector<int> Clip8(Vector<int> v) =>
        Vector.Min(Vector.Max(Vector.ShiftRightArithmetic(v, PrecisionBits), Vector<int>.Zero), new Vector<int>(255));
}
