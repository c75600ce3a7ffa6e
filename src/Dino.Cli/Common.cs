using System.CommandLine;
using System.Globalization;
using System.Text;

namespace Dino.Cli;

/// <summary>Documented exit codes.</summary>
internal static class ExitCode
{
    public const int Ok = 0;
    public const int SomeInputsFailed = 1;
    public const int Usage = 2;
    public const int ModelError = 3;
}

/// <summary>A usage problem found after parsing (exit code 2).</summary>
internal sealed class UsageException(string message) : Exception(message);

/// <summary>Options several commands share, so they read the same everywhere.</summary>
internal static class Shared
{
    public static Option<string> Model() => new("--model", "-m")
    {
        Description = "The GGUF model file (convert one with scripts/convert_gguf.py)",
        Required = true,
    };

    public static Option<int> Threads() => new("--threads", "-t")
    {
        Description = "Compute threads per image batch (0 = all cores)",
        DefaultValueFactory = _ => 0,
    };

    public static Option<int?> Size() => new("--size", "-s")
    {
        Description = "Input size in pixels, a multiple of 8 (default: the model's own preprocessing)",
    };

    public static Option<int> Batch() => new("--batch", "-b")
    {
        Description = "Images computed together",
        DefaultValueFactory = _ => 8,
    };

    public static DinoModel Open(string path, int threads, int batch = 8)
    {
        if (threads < 0) throw new UsageException("--threads must be 0 or more");
        if (batch < 1) throw new UsageException("--batch must be 1 or more");
        return DinoModel.Load(path, new DinoModelOptions { ThreadsPerCall = threads, MaxBatchSize = batch });
    }

    /// <summary>The model's recipe, with its output size changed to size (crop if it crops, else the resize).</summary>
    public static PreprocessOptions Recipe(DinoModel model, int? size)
    {
        var p = model.DefaultPreprocessing;
        if (size is not int s) return p;
        if (s < 8 || s % model.Info.PatchSize != 0)
            throw new UsageException($"--size must be a multiple of the patch size {model.Info.PatchSize}");
        return p.Crop > 0 ? p with { Crop = s, Resize = (int)Math.Round((double)s * p.Resize / p.Crop) }
                          : p with { Resize = s, ResizeShortestEdge = false };
    }
}

/// <summary>Files named on the command line: files as given, folders searched recursively, sorted.</summary>
internal static class Inputs
{
    public static readonly string[] ImageExtensions = { ".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp" };

    public static bool IsImage(string path) => ImageExtensions.Contains(Path.GetExtension(path).ToLowerInvariant());

    public static List<string> Expand(IEnumerable<string> paths, bool allowNpy)
    {
        var files = new List<string>();
        foreach (string p in paths)
        {
            if (Directory.Exists(p))
            {
                files.AddRange(Directory.EnumerateFiles(p, "*", new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true })
                    .Where(f => IsImage(f) || (allowNpy && f.EndsWith(".npy", StringComparison.OrdinalIgnoreCase)))
                    .Order(StringComparer.Ordinal));
            }
            else if (File.Exists(p)) files.Add(p);
            else throw new UsageException($"{p}: no such file or folder");
        }
        return files;
    }
}

/// <summary>Float32 .npy files (numpy format 1.0, little-endian, C order).</summary>
internal static class Npy
{
    public static byte[] Header(IReadOnlyList<long> shape)
    {
        string dims = shape.Count == 1 ? $"{shape[0]}," : string.Join(", ", shape);
        string dict = $"{{'descr': '<f4', 'fortran_order': False, 'shape': ({dims}), }}";
        int total = 10 + dict.Length + 1;
        dict = dict.PadRight(dict.Length + (64 - total % 64) % 64) + "\n";
        var h = new List<byte> { 0x93 };
        h.AddRange("NUMPY"u8.ToArray());
        h.Add(1);
        h.Add(0);
        h.AddRange(BitConverter.GetBytes((ushort)dict.Length));
        h.AddRange(Encoding.ASCII.GetBytes(dict));
        return h.ToArray();
    }

    public static void Write(Stream s, IReadOnlyList<long> shape, ReadOnlySpan<float> data)
    {
        s.Write(Header(shape));
        s.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(data));
    }

    public static (long[] shape, float[] data) Read(string path)
    {
        byte[] b = File.ReadAllBytes(path);
        if (b.Length < 10 || b[0] != 0x93 || Encoding.ASCII.GetString(b, 1, 5) != "NUMPY")
            throw new InvalidDataException($"{path}: not a .npy file");
        int start = b[6] == 1 ? 10 : 12;
        int len = b[6] == 1 ? BitConverter.ToUInt16(b, 8) : BitConverter.ToInt32(b, 8);
        if (start + len > b.Length) throw new InvalidDataException($"{path}: truncated header");
        string header = Encoding.ASCII.GetString(b, start, len);
        if (!header.Contains("'<f4'") || header.Contains("'fortran_order': True"))
            throw new InvalidDataException($"{path}: only little-endian float32 C-order arrays are read");
        int open = header.IndexOf('(', header.IndexOf("'shape'", StringComparison.Ordinal));
        int close = header.IndexOf(')', open);
        long[] shape = header[(open + 1)..close].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(x => long.Parse(x, CultureInfo.InvariantCulture)).ToArray();
        long count = shape.Aggregate(1L, (a, x) => checked(a * x));
        if (start + len + count * 4 != b.Length) throw new InvalidDataException($"{path}: data does not match the shape ({string.Join("x", shape)})");
        var data = new float[count];
        Buffer.BlockCopy(b, start + len, data, 0, (int)(count * 4));
        return (shape, data);
    }
}

/// <summary>
/// An output written to a temporary file beside its destination and renamed over it only when complete,
/// so an interrupted or failed run never leaves a file that looks whole.
/// </summary>
internal sealed class AtomicFile : IDisposable
{
    private readonly string _path;
    private readonly string _temp;
    private bool _committed;

    public AtomicFile(string path)
    {
        _path = Path.GetFullPath(path);
        string dir = Path.GetDirectoryName(_path)!;
        if (!Directory.Exists(dir)) throw new UsageException($"{dir}: no such folder for the output");
        _temp = Path.Combine(dir, $".{Path.GetFileName(_path)}.{Environment.ProcessId}.partial");
        Stream = new FileStream(_temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
    }

    public FileStream Stream { get; }

    public void Commit()
    {
        Stream.Flush(flushToDisk: true);
        Stream.Dispose();
        File.Move(_temp, _path, overwrite: true);
        _committed = true;
    }

    public void Dispose()
    {
        if (_committed) return;
        try { Stream.Dispose(); }
        catch (IOException) { }  // flushing what is left fails again on a full disk; the file goes anyway
        try { File.Delete(_temp); } catch (IOException) { }
    }
}

/// <summary>A progress line on stderr (redrawn on a terminal, every 10% otherwise).</summary>
internal sealed class Progress(string what, int total)
{
    private readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();
    private int _lastDecile = -1;

    public void Report(int done, int failed)
    {
        if (total == 0) return;
        double rate = done / Math.Max(_clock.Elapsed.TotalSeconds, 1e-9);
        string line = $"{what}: {done}/{total} ({100 * done / total}%), {failed} failed, {rate:F1}/s";
        if (!Console.IsErrorRedirected)
        {
            int width = 24, filled = width * done / total;
            Console.Error.Write($"\r[{new string('#', filled)}{new string('.', width - filled)}] {line}   ");
            if (done == total) Console.Error.WriteLine();
        }
        else if (done * 10 / total != _lastDecile)
        {
            _lastDecile = done * 10 / total;
            Console.Error.WriteLine(line);
        }
    }
}
