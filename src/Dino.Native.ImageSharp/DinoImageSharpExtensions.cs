// Dino.Native.ImageSharp: embedding ImageSharp images with Dino.Native. A source package: this file is compiled
// into your app against the SixLabors.ImageSharp your app references (2.1.13 or later: 2.x, 3.x, 4.x), so it
// never binds to a version of ours. Dino.Native itself decodes files with a private copy of ImageSharp 2.1.13.
#nullable enable
using System;
using System.Threading;
using System.Threading.Tasks;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

namespace Dino;

/// <summary>
/// <see cref="DinoModel"/> over ImageSharp images: each is converted to RGB24 (alpha dropped, as Pillow's
/// convert("RGB") does) and turned upright by its EXIF orientation, as Dino.Native does for files, then preprocessed
/// from memory: the same tensor as the image saved as a PNG and embedded by path.
/// </summary>
internal static class DinoImageSharpExtensions
{
    /// <summary>Preprocesses an ImageSharp image to the model's input tensor.</summary>
    public static ImageTensor Preprocess(this DinoModel model, Image image, PreprocessOptions? options = null)
    {
        if (model is null) throw new ArgumentNullException(nameof(model));
        if (image is null) throw new ArgumentNullException(nameof(image));
        using Image<Rgb24> rgb = image.CloneAs<Rgb24>();
        rgb.Mutate(x => x.AutoOrient());
        var pixels = new byte[checked(rgb.Width * rgb.Height * 3)];
        rgb.CopyPixelDataTo(pixels);
        return model.Preprocess(pixels, rgb.Width, rgb.Height, rgb.Width * 3, DinoPixelFormat.Rgb24, options);
    }

    /// <summary>Embeds an ImageSharp image.</summary>
    public static DinoEmbedding Embed(this DinoModel model, Image image, EmbedOptions? options = null, CancellationToken cancellationToken = default) =>
        model.Embed(model.Preprocess(image, options?.Preprocess), options, cancellationToken);

    /// <summary>Embeds an ImageSharp image without blocking.</summary>
    /// <remarks>The work runs on a thread-pool thread (Task.Run): the caller's thread is free, a pool thread is busy for the whole computation.</remarks>
    public static Task<DinoEmbedding> EmbedAsync(this DinoModel model, Image image, EmbedOptions? options = null, CancellationToken cancellationToken = default) =>
        Task.Run(() => model.Embed(image, options, cancellationToken), cancellationToken);
}
