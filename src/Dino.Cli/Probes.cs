namespace Dino.Cli;

/// <summary>Deterministic stand-in images (smooth colour patterns with edges) for drift reports and benchmarks.</summary>
internal static class Probes
{
    public static ImageTensor[] Make(int count, int size)
    {
        var list = new ImageTensor[count];
        for (int n = 0; n < count; n++)
        {
            var d = new float[3 * size * size];
            for (int c = 0; c < 3; c++)
                for (int y = 0; y < size; y++)
                    for (int x = 0; x < size; x++)
                    {
                        double u = (double)x / size, v = (double)y / size;
                        double val = Math.Sin((3 + n) * u * Math.PI + c) * Math.Cos((2 + c) * v * Math.PI - n)
                                   + ((x / 32 + y / 32 + n) % 2 == 0 ? 0.5 : -0.5);
                        d[(c * size + y) * size + x] = (float)val;
                    }
            list[n] = new ImageTensor(d, size, size);
        }
        return list;
    }
}
