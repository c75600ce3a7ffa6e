using Dino.Imaging;
using Dino.Interop;
using SixLabors.ImageSharp;

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

    /// <summary>Preprocesses an already decoded ImageSharp image.</summary>
    public ImageTensor Preprocess(Image image, PreprocessOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(image);
        return ToTensor(ImageLoader.FromImage(image), options);
    }

    private ImageTensor ToTensor(RgbImage image, PreprocessOptions? options)
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
