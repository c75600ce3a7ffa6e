using Dino.Imaging;
using Dino.Interop;

namespace Dino;

public sealed partial class DinoModel
{
    /// <summary>Decodes and preprocesses an image file into the tensor the model sees.</summary>
    /// <exception cref="DinoImageException">The file cannot be decoded or is over the limits.</exception>
    public ImageTensor Preprocess(string path, PreprocessOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        RgbImage image;
        try
        {
            using var f = IO.RegularFile.OpenRead(path);  // a FIFO or device is refused, never waited on
            image = ImageLoader.Decode(f, _options.ImageLimits, path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DinoImageException(e.Message.Contains(path, StringComparison.Ordinal) ? e.Message : $"{path}: {e.Message}", DinoStatus.IO, e);
        }
        return ToTensor(image, options);
    }

    /// <summary>Decodes and preprocesses an encoded image from a stream (read from its current position).</summary>
    public ImageTensor Preprocess(Stream stream, PreprocessOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        return ToTensor(ImageLoader.Decode(stream, _options.ImageLimits, "stream"), options);
    }

    /// <summary>Decodes and preprocesses an encoded image (JPEG, PNG, GIF, WebP or BMP bytes).</summary>
    public ImageTensor Preprocess(ReadOnlyMemory<byte> encoded, PreprocessOptions? options = null)
    {
        using var s = System.Runtime.InteropServices.MemoryMarshal.TryGetArray(encoded, out ArraySegment<byte> a)
            ? new MemoryStream(a.Array!, a.Offset, a.Count, writable: false)
            : new MemoryStream(encoded.ToArray(), writable: false);
        return ToTensor(ImageLoader.Decode(s, _options.ImageLimits, "image bytes"), options);
    }

    /// <summary>
    /// Preprocesses raw pixels from memory (a camera frame, a video decoder's output): no encoding, one resize pass
    /// that converts each row it reads, no copy of the whole frame. The tensor equals the one from a PNG of the
    /// same (RGB) pixels, bit for bit.
    /// </summary>
    /// <param name="pixels">The frame: <paramref name="height"/> rows <paramref name="stride"/> bytes apart (NV12: then the chroma plane).</param>
    /// <param name="width">Pixels a row.</param>
    /// <param name="height">Rows.</param>
    /// <param name="stride">Bytes from one row's start to the next's (at least a row's bytes).</param>
    /// <param name="format">How the pixels are laid out (<see cref="DinoPixelFormat"/>; NV12's colour conversion is given there).</param>
    /// <param name="options">Preprocessing; null = the model's default.</param>
    /// <exception cref="ArgumentException">The span is smaller than the size and stride say, or a size is not positive.</exception>
    /// <exception cref="DinoImageException">The frame is over <see cref="ImageLimits.MaxPixels"/>.</exception>
    public ImageTensor Preprocess(ReadOnlySpan<byte> pixels, int width, int height, int stride, DinoPixelFormat format, PreprocessOptions? options = null)
    {
        var frame = new PixelRows(pixels, width, height, stride, format);
        if ((long)width * height > _options.ImageLimits.MaxPixels)
            throw new DinoImageException($"frame: {width}x{height} is {(long)width * height} pixels, over the limit of {_options.ImageLimits.MaxPixels} (ImageLimits.MaxPixels)");
        return ToTensor(frame, options);
    }

    private ImageTensor ToTensor(RgbImage image, PreprocessOptions? options) => ToTensor(new PixelRows(image.Pixels, image.Width, image.Height), options);

    private ImageTensor ToTensor(PixelRows image, PreprocessOptions? options)
    {
        var o = options ?? DefaultPreprocessing;
        o.Validate();
        var t = Preprocessor.ToTensor(image, o);
        if (t.Height % Info.PatchSize != 0 || t.Width % Info.PatchSize != 0)
            throw new DinoImageException($"the preprocessed image is {t.Width}x{t.Height}, not a multiple of the patch size {Info.PatchSize}; " +
                                         "choose a Resize/Crop that is (or a square resize)");
        return t;
    }
}
