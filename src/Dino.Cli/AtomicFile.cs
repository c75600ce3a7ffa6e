namespace Dino.Cli;

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
