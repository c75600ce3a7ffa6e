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

    // Pillow's rounded sum: 2^(PrecisionBits - 1) + sum of values[i] * weights[i].
    private static int Dot(ReadOnlySpan<int> values, ReadOnlySpan<int> weights)
    {
        int i = 0, sum = 1 << (PrecisionBits - 1);
        if (System.Numerics.Vector.IsHardwareAccelerated && values.Length >= System.Numerics.Vector<int>.Count)
        {
            var acc = System.Numerics.Vector<int>.Zero;
            for (; i + System.Numerics.Vector<int>.Count <= values.Length; i += System.Numerics.Vector<int>.Count)
                acc += new System.Numerics.Vector<int>(values.Slice(i)) * new System.Numerics.Vector<int>(weights.Slice(i));
            sum += System.Numerics.Vector.Sum(acc);
        }
        for (; i < values.Length; i++) sum += values[i] * weights[i];
        return sum;
    }

    /// <summary>Resizes pixels (w x h, read a row at a time as RGB) to interleaved RGB bytes (outW x outH).</summary>
    internal static byte[] Resize(PixelRows src, int outW, int outH, ResampleFilter filter)
    {
        int w = src.Width, h = src.Height;
        var scratch = new byte[3 * w];  // one source row, where the pixels are not RGB already
        var (vb, vk, vks) = Coefficients(h, outH, filter);
        // The horizontal pass, on only the rows the vertical pass reads (all of them at the same height).
        int first = outH == h ? 0 : vb[0], last = outH == h ? h : vb[(outH - 1) * 2] + vb[(outH - 1) * 2 + 1];
        int tempRows = last - first;
        var temp = new byte[outW * tempRows * 3];
        if (outW == w)
        {
            for (int y = 0; y < tempRows; y++) src.Rgb(y + first, scratch).CopyTo(temp.AsSpan(y * w * 3));
        }
        else
        {
            var (hb, hk, hks) = Coefficients(w, outW, filter);
            // Each channel as a plane of ints, so that a tap run is contiguous: the same integer sums as Pillow's,
            // in Vector<int> lanes (int addition is exact in any order; the sums stay below 2^31).
            var planes = new int[3 * w];
            Span<int> pr = planes.AsSpan(0, w), pg = planes.AsSpan(w, w), pb = planes.AsSpan(2 * w, w);
            for (int y = 0; y < tempRows; y++)
            {
                src.Planes(y + first, scratch, pr, pg, pb);
                int rowOut = y * outW * 3;
                for (int xx = 0; xx < outW; xx++)
                {
                    int xmin = hb[xx * 2], n = hb[xx * 2 + 1];
                    ReadOnlySpan<int> k = hk.AsSpan(xx * hks, n);
                    temp[rowOut + xx * 3] = Clip8(Dot(pr.Slice(xmin, n), k));
                    temp[rowOut + xx * 3 + 1] = Clip8(Dot(pg.Slice(xmin, n), k));
                    temp[rowOut + xx * 3 + 2] = Clip8(Dot(pb.Slice(xmin, n), k));
                }
            }
        }
        if (outH != h)
        {
            for (int i = 0; i < outH; i++) vb[i * 2] -= first;
        }
        if (outH == h) return temp;

        var dst = new byte[outW * outH * 3];
        int stride = outW * 3;
        for (int yy = 0; yy < outH; yy++)
        {
            int ymin = vb[yy * 2], n = vb[yy * 2 + 1], kOff = yy * vks;
            for (int xx = 0; xx < stride; xx++)
            {
                int s = 1 << (PrecisionBits - 1);
                for (int y = 0; y < n; y++) s += temp[(ymin + y) * stride + xx] * vk[kOff + y];
                dst[yy * stride + xx] = Clip8(s);
            }
        }
        return dst;
    }
}
