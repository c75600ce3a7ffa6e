using System.CommandLine;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

namespace Dino.Cli;

/// <summary>The last block's CLS attention per head, drawn as in the DINO paper (visualize_attention.py).</summary>
internal static class AttentionCommand
{
    public static Command Create()
    {
        var model = Shared.Model();
        var threads = Shared.Threads();
        var output = new Option<string>("--output", "-o") { Description = "The PNG to write", Required = true };
        var size = new Option<int?>("--size", "-s")
        {
            Description = "Square input size, a multiple of 8 (default: the model's own, 224 for ViT-S/8; DINO's figures use 480: " +
                          "finer maps at about 9x the time and 5x the memory)",
        };
        var keep = new Option<double>("--mass") { Description = "Attention mass the masks keep", DefaultValueFactory = _ => 0.6 };
        var image = new Argument<string>("IMAGE") { Description = "The image to look at" };
        var cmd = new Command("attention", "Draw the last block's self-attention of the CLS token, one map per head, as in the DINO paper.")
        { model, output, size, keep, threads, image };
        CliHelp.AddDetails(cmd, """
            Top row: the input (INPUT), then each head's attention as a heat map over it (HEAD 1, HEAD 2, ...). Bottom row: the mean over
            heads (MEAN), then each head's mask keeping the patches that hold --mass (60%) of its attention (MASK 1, ...). Each panel is labelled.

            Examples:
              dino attention -m dino-vits8-f32.gguf dog.jpg -o dog-attention.png
              dino attention -m model.gguf street.png -o maps.png --size 480 --mass 0.8     (DINO's visualisation size)
            """);
        cmd.SetAction((r, ct) => Task.FromResult(Run(r.GetValue(model)!, r.GetValue(image)!, r.GetValue(output)!, r.GetValue(size),
                                                     r.GetValue(keep), r.GetValue(threads), ct)));
        return cmd;
    }

    private static int Run(string modelPath, string imagePath, string output, int? sizeOption, double mass, int threads, CancellationToken ct)
    {
        if (!Path.GetExtension(output).Equals(".png", StringComparison.OrdinalIgnoreCase))
            throw new UsageException($"-o {output}: the attention picture is a PNG; name it .png");
        Shared.RefuseOutputOverInput(output, new[] { imagePath, modelPath });
        if (!(mass > 0 && mass <= 1)) throw new UsageException("--mass must be in (0, 1]");  // (NaN too)
        using var dino = Shared.Open(modelPath, threads);
        int size = sizeOption ?? dino.Info.InputSize;
        if (size < dino.Info.PatchSize || size % dino.Info.PatchSize != 0) throw new UsageException($"--size must be a multiple of {dino.Info.PatchSize}");
        var recipe = dino.DefaultPreprocessing with { Resize = size, ResizeShortestEdge = false, Crop = 0 };
        var tensor = dino.Preprocess(imagePath, recipe);
        var r = dino.Embed(tensor, new EmbedOptions { Attention = AttentionOutput.ClsQuery }, ct);

        int heads = r.HeadCount, gh = r.GridHeight, gw = r.GridWidth, p = dino.Info.PatchSize;
        var maps = Enumerable.Range(0, heads).Select(r.AttentionMap).ToArray();
        var mean = new float[gh * gw];
        foreach (var m in maps) for (int i = 0; i < mean.Length; i++) mean[i] += m[i] / heads;

        using var canvas = new Image<Rgb24>((heads + 1) * size, 2 * size);
        Rgb24[] input = Denormalize(tensor, recipe);
        Draw(canvas, 0, 0, size, (x, y) => input[y * size + x]);
        for (int h = 0; h < heads; h++)
        {
            var map = maps[h];
            bool[] keepMask = MassMask(map, mass);
            Draw(canvas, (h + 1) * size, 0, size, (x, y) => Heat(input[y * size + x], map, gw, x / p, y / p));
            Draw(canvas, (h + 1) * size, size, size, (x, y) =>
            {
                var c = input[y * size + x];
                return keepMask[(y / p) * gw + x / p] ? c : new Rgb24((byte)(c.R / 5), (byte)(c.G / 5), (byte)(c.B / 5));
            });
        }
        // bottom-left: the mean over heads
        Draw(canvas, 0, size, size, (x, y) => Colormap(Normalized(mean, (y / p) * gw + x / p)));
        int panel = size;
        if (size > 320)
        {
            panel = 320;
            canvas.Mutate(c => c.Resize(canvas.Width * panel / size, canvas.Height * panel / size, KnownResamplers.Triangle));
        }
        int scale = Math.Max(1, panel / 112);  // captions stay legible and small: 2 px per font pixel at 224
        PanelLabel.Draw(canvas, 0, 0, "input", scale);
        PanelLabel.Draw(canvas, 0, panel, "mean", scale);
        for (int h = 0; h < heads; h++)
        {
            PanelLabel.Draw(canvas, (h + 1) * panel, 0, $"head {h + 1}", scale);
            PanelLabel.Draw(canvas, (h + 1) * panel, panel, $"mask {h + 1}", scale);
        }

        using var file = new AtomicFile(output);
        canvas.SaveAsPng(file.Stream);
        file.Commit();
        Console.Error.WriteLine($"dino: wrote {output}: {heads} heads over a {gw}x{gh} patch grid");
        return ExitCode.Ok;
    }

    private static void Draw(Image<Rgb24> canvas, int x0, int y0, int size, Func<int, int, Rgb24> pixel)
    {
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++)
                canvas[x0 + x, y0 + y] = pixel(x, y);
    }

    private static Rgb24[] Denormalize(ImageTensor t, PreprocessOptions o)
    {
        int n = t.Height * t.Width;
        var px = new Rgb24[n];
        for (int i = 0; i < n; i++)
        {
            byte C(int c) => (byte)Math.Clamp(Math.Round((t.Data[c * n + i] * o.Std[c] + o.Mean[c]) / o.RescaleFactor), 0, 255);
            px[i] = new Rgb24(C(0), C(1), C(2));
        }
        return px;
    }

    private static float Normalized(float[] map, int i)
    {
        float lo = map.Min(), hi = map.Max();
        return hi > lo ? (map[i] - lo) / (hi - lo) : 0;
    }

    private static Rgb24 Heat(Rgb24 under, float[] map, int gw, int gx, int gy)
    {
        var c = Colormap(Normalized(map, gy * gw + gx));
        return new Rgb24((byte)(0.35 * under.R + 0.65 * c.R), (byte)(0.35 * under.G + 0.65 * c.G), (byte)(0.35 * under.B + 0.65 * c.B));
    }

    // An inferno-like ramp: black, purple, red, orange, pale yellow.
    private static readonly (float r, float g, float b)[] Ramp =
    {
        (0, 0, 4), (40, 11, 84), (101, 21, 110), (159, 42, 99), (212, 72, 66), (245, 125, 21), (250, 193, 39), (252, 255, 164),
    };

    private static Rgb24 Colormap(float v)
    {
        float f = Math.Clamp(v, 0, 1) * (Ramp.Length - 1);
        int i = Math.Min((int)f, Ramp.Length - 2);
        float t = f - i;
        var (a, b) = (Ramp[i], Ramp[i + 1]);
        return new Rgb24((byte)(a.r + t * (b.r - a.r)), (byte)(a.g + t * (b.g - a.g)), (byte)(a.b + t * (b.b - a.b)));
    }

    /// <summary>visualize_attention.py: sort ascending, keep where the cumulative mass passes 1 - mass.</summary>
    private static bool[] MassMask(float[] map, double mass)
    {
        double total = map.Sum(v => (double)v);
        var order = Enumerable.Range(0, map.Length).OrderBy(i => map[i]).ToArray();
        var keep = new bool[map.Length];
        double cum = 0;
        foreach (int i in order)
        {
            cum += map[i] / total;
            keep[i] = cum > 1 - mass;
        }
        return keep;
    }
}
