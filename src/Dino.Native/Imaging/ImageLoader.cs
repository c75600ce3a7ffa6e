using System.Buffers;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats;
using SixLabors.ImageSharp.Formats.Bmp;
using SixLabors.ImageSharp.Formats.Gif;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.Formats.Webp;
using SixLabors.ImageSharp.Memory;
using SixLabors.ImageSharp.Metadata;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

namespace Dino.Imaging;

/// <summary>Decoded RGB pixels: interleaved bytes, row-major.</summary>
internal readonly record struct RgbImage(byte[] Pixels, int Width, int Height);

/// <summary>
/// Decodes images to RGB with ImageSharp 2.1: only JPEG, PNG, GIF (first
/// frame), WebP and BMP are enabled; the size is checked (Identify) before
/// decoding, metadata is bounded (ImageMetadata), decoding allocates under a byte budget, EXIF orientation is
/// applied, and every format becomes 8-bit RGB (alpha dropped, as PIL's
/// convert('RGB') does).
/// </summary>
internal static class ImageLoader
{
    private static readonly Configuration BaseConfiguration = CreateConfiguration();
    private static readonly MemoryAllocator SharedPool = MemoryAllocator.Create(new MemoryAllocatorOptions { MaximumPoolSizeMegabytes = 64 });

    private static Configuration CreateConfiguration()
    {
        var c = new Configuration(
            new JpegConfigurationModule(), new PngConfigurationModule(), new GifConfigurationModule(),
            new WebpConfigurationModule(), new BmpConfigurationModule());
        // Only the first frame of a GIF: a many-frame file cannot cost more than one.  (ImageSharp
        // 2.1's WebP decoder has no such switch; animated WebP stays within MaxDecodeBytes.)
        c.ImageFormatsManager.SetDecoder(GifFormat.Instance, new GifDecoder { DecodingMode = FrameDecodingMode.First });
        return c;
    }

    internal static string EnabledFormats => "JPEG, PNG, GIF, WebP, BMP";

    internal static RgbImage Decode(Stream stream, ImageLimits limits, string what)
    {
        Stream s = stream;
        if (!stream.CanSeek)
        {
            var copy = new MemoryStream();
            CopyLimited(stream, copy, limits.MaxEncodedBytes, what);
            copy.Position = 0;
            s = copy;
        }
        else if (stream.Length - stream.Position > limits.MaxEncodedBytes)
        {
            throw new DinoImageException($"{what}: {stream.Length - stream.Position} bytes is over the limit of {limits.MaxEncodedBytes} (ImageLimits.MaxEncodedBytes)");
        }

        long start = s.Position;
        var config = BaseConfiguration.Clone();
        config.MemoryAllocator = new BudgetAllocator(SharedPool, limits.MaxDecodeBytes, what);
        try
        {
            IImageFormat? format = Image.DetectFormat(config, s);
            s.Position = start;
            if (format == null)
                throw new DinoImageException($"{what}: not an image in an enabled format ({EnabledFormats})");
            Stream bounded = ImageMetadata.Bound(s, format, what);  // before Identify, which reads the metadata
            if (!ReferenceEquals(bounded, s)) (s, start) = (bounded, 0);
            IImageInfo? info = Image.Identify(config, s);
            if (info == null)
                throw new DinoImageException($"{what}: not an image in an enabled format ({EnabledFormats})");
            long pixels = (long)info.Width * info.Height;
            if (info.Width <= 0 || info.Height <= 0)
                throw new DinoImageException($"{what}: the image has no pixels ({info.Width}x{info.Height})");
            if (pixels > limits.MaxPixels)
                throw new DinoImageException($"{what}: {info.Width}x{info.Height} is {pixels} pixels, over the limit of {limits.MaxPixels} (ImageLimits.MaxPixels)");
            s.Position = start;
            Truncation.Check(s, format, what);
            using Image<Rgb24> image = Image.Load<Rgb24>(config, s);
            image.Mutate(x => x.AutoOrient());
            var bytes = new byte[image.Width * image.Height * 3];
            image.CopyPixelDataTo(bytes);
            return new RgbImage(bytes, image.Width, image.Height);
        }
        catch (DinoImageException) { throw; }
        catch (UnknownImageFormatException e) { throw new DinoImageException($"{what}: not an image in an enabled format ({EnabledFormats})", inner: e); }
        catch (InvalidImageContentException e) { throw new DinoImageException($"{what}: corrupt image: {e.Message}", inner: e); }
        catch (ImageFormatException e) { throw new DinoImageException($"{what}: cannot decode: {e.Message}", inner: e); }
        catch (InvalidMemoryOperationException e) { throw new DinoImageException($"{what}: decoding needs too much memory: {e.Message}", inner: e); }
        catch (OutOfMemoryException e)
        {
            // One input's allocation failed (a GC heap limit, as in a container): that input fails, not the process.
            throw new DinoImageException($"{what}: decoding needs more memory than this process may use: {e.Message}", inner: e);
        }
        catch (Exception e) when (e is EndOfStreamException or NotSupportedException or ArgumentException or IndexOutOfRangeException or InvalidOperationException or OverflowException)
        {
            // ImageSharp 2.1 lets some malformed inputs escape as these.
            throw new DinoImageException($"{what}: cannot decode: {e.Message}", inner: e);
        }
    }

    private static void CopyLimited(Stream from, Stream to, long limit, string what)
    {
        byte[] buf = ArrayPool<byte>.Shared.Rent(81920);
        try
        {
            long total = 0;
            int n;
            while ((n = from.Read(buf, 0, buf.Length)) > 0)
            {
                total += n;
                if (total > limit)
                    throw new DinoImageException($"{what}: more than {limit} bytes (ImageLimits.MaxEncodedBytes)");
                to.Write(buf, 0, n);
            }
        }
        finally { ArrayPool<byte>.Shared.Return(buf); }
    }

    /// <summary>Counts what one decode holds and refuses allocations past its budget.</summary>
    private sealed class BudgetAllocator : MemoryAllocator
    {
        private readonly MemoryAllocator _inner;
        private readonly long _budget;
        private readonly string _what;
        private long _used;

        public BudgetAllocator(MemoryAllocator inner, long budget, string what) => (_inner, _budget, _what) = (inner, budget, what);

        protected override int GetBufferCapacityInBytes() => 4 * 1024 * 1024;

        public override IMemoryOwner<T> Allocate<T>(int length, AllocationOptions options = AllocationOptions.None)
        {
            long bytes = (long)length * System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
            if (Interlocked.Add(ref _used, bytes) > _budget)
            {
                Interlocked.Add(ref _used, -bytes);
                throw new DinoImageException($"{_what}: decoding needs more than {_budget} bytes (ImageLimits.MaxDecodeBytes)");
            }
            return new Counted<T>(_inner.Allocate<T>(length, options), this, bytes);
        }

        public override void ReleaseRetainedResources() { }

        private sealed class Counted<T> : IMemoryOwner<T>
        {
            private IMemoryOwner<T>? _owner;
            private readonly BudgetAllocator _parent;
            private readonly long _bytes;

            public Counted(IMemoryOwner<T> owner, BudgetAllocator parent, long bytes) => (_owner, _parent, _bytes) = (owner, parent, bytes);

            public Memory<T> Memory => _owner?.Memory ?? throw new ObjectDisposedException(nameof(Counted<T>));

            public void Dispose()
            {
                var o = Interlocked.Exchange(ref _owner, null);
                if (o == null) return;
                o.Dispose();
                Interlocked.Add(ref _parent._used, -_bytes);
            }
        }
    }
}
