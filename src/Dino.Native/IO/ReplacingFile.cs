namespace Dino.IO;

/// <summary>
/// A new version of a regular file: written under a fresh, unguessable name beside it, created exclusively (a link
/// planted at that name is never followed), and renamed over it, after an fsync, only when complete, so that an
/// interrupted or failed write never leaves a file that looks whole and the old one stays as it was.
/// (Also compiled into the dino tool, whose signal handlers delete the <see cref="Pending"/> files.)
/// </summary>
internal sealed class ReplacingFile : IDisposable
{
    private readonly string _path;
    private readonly string _temp;
    private bool _done;

    /// <summary>Every temporary file of this assembly not yet committed or deleted.</summary>
    private static readonly HashSet<string> Pending = new();

    /// <summary>Starts a new version of <paramref name="path"/> (a full path; its folder must exist).</summary>
    public ReplacingFile(string path)
    {
        _path = path;
        string dir = Path.GetDirectoryName(path)!;
        for (int attempt = 0; ; attempt++)
        {
            _temp = Path.Combine(dir, $".{Path.GetFileName(path)}.{Path.GetRandomFileName()}.partial");
            try
            {
                lock (Pending) Pending.Add(_temp);
                Stream = new FileStream(_temp, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 16);
                return;
            }
            catch (IOException) when (File.Exists(_temp) || new FileInfo(_temp).LinkTarget != null)
            {
                lock (Pending) Pending.Remove(_temp);
                if (attempt == 16) throw;
            }
            catch
            {
                lock (Pending) Pending.Remove(_temp);
                throw;
            }
        }
    }

    public FileStream Stream { get; } = null!;

    /// <summary>Puts the new version in place: flushed to the disk first, so that a crash cannot leave an empty file.</summary>
    public void Commit()
    {
        Stream.Flush(flushToDisk: true);
        Stream.Dispose();
        File.Move(_temp, _path, overwrite: true);
        lock (Pending) Pending.Remove(_temp);
        _done = true;
    }

    /// <summary>Drops the new version unless committed.</summary>
    public void Dispose()
    {
        if (_done) return;
        _done = true;
        try { Stream.Dispose(); }
        catch (IOException) { }  // flushing what is left fails again on a full disk; the file goes anyway
        try { File.Delete(_temp); } catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        lock (Pending) Pending.Remove(_temp);
    }

    /// <summary>Deletes every pending temporary file: the last thing a process stopped by a signal does.</summary>
    public static void DeleteAllPending()
    {
        lock (Pending)
        {
            foreach (string t in Pending)
            {
                try { File.Delete(t); } catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
            }
            Pending.Clear();
        }
    }
}
