namespace Dino;

/// <summary>An image as the model sees it: float32 [3, Height, Width], normalized.</summary>
public sealed class ImageTensor
{
    /// <summary>Creates a tensor from CHW data (length 3 x height x width).</summary>
    public ImageTensor(float[] data, int height, int width)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (height <= 0 || width <= 0 || data.Length != 3L * height * width)
            throw new ArgumentException($"data holds {data.Length} values; 3 x {height} x {width} needed");
        Data = data;
        Height = height;
        Width = width;
    }

    /// <summary>Channel-major values: R plane, G plane, B plane.</summary>
    public float[] Data { get; }

    /// <summary>Height in pixels.</summary>
    public int Height { get; }

    /// <summary>Width in pixels.</summary>
    public int Width { get; }
}
