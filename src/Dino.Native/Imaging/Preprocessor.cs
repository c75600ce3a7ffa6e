namespace Dino.Imaging;

/// <summary>Pixels to the model's input tensor.</summary>
internal static class Preprocessor
{
    internal static ImageTensor ToTensor(PixelRows image, PreprocessOptions o)
    {
        var (w, h) = o.ResizedSize(image.Width, image.Height);
        if (w <= 0 || h <= 0) throw new DinoImageException($"the image ({image.Width}x{image.Height}) is too thin to resize");
        byte[] px = PilResize.Resize(image, w, h, o.Resample);
        int x0 = 0, y0 = 0;
        if (o.Crop > 0)
        {
            if (o.Crop > w || o.Crop > h)
                throw new DinoImageException($"center crop {o.Crop} is larger than the resized image ({w}x{h})");
            // torchvision CenterCrop: int(round((h - crop) / 2)) with round half to even; transformers: (h - crop) // 2
            var rounding = o.CropRounding == CenterCropRounding.Down ? MidpointRounding.ToZero : MidpointRounding.ToEven;
            x0 = (int)Math.Round((w - o.Crop) / 2.0, rounding);
            y0 = (int)Math.Round((h - o.Crop) / 2.0, rounding);
        }
        int ow = o.Crop > 0 ? o.Crop : w, oh = o.Crop > 0 ? o.Crop : h;
        var data = new float[3 * oh * ow];
        // As the Hugging Face processor: float64(byte) * factor -> float32, then (x - mean) / std in float32.
        // The GGUF stores 1/255 as float32; use the exact value the Python processors multiply by.
        double factor = o.RescaleFactor == 1f / 255f ? 1.0 / 255.0 : o.RescaleFactor;
        Span<float> mean = stackalloc float[] { o.Mean[0], o.Mean[1], o.Mean[2] };
        Span<float> std = stackalloc float[] { o.Std[0], o.Std[1], o.Std[2] };
        var lut = new float[3 * 256];
        for (int c = 0; c < 3; c++)
            for (int v = 0; v < 256; v++)
                lut[c * 256 + v] = ((float)(v * factor) - mean[c]) / std[c];
        int plane = oh * ow;
        for (int y = 0; y < oh; y++)
        {
            int src = ((y + y0) * w + x0) * 3, dst = y * ow;
            for (int x = 0; x < ow; x++, src += 3, dst++)
            {
                data[dst] = lut[px[src]];
                data[plane + dst] = lut[256 + px[src + 1]];
                data[2 * plane + dst] = lut[512 + px[src + 2]];
            }
        }
        return new ImageTensor(data, oh, ow);
    }
}
