namespace Dino.Cli;

/// <summary>
/// An output file. A regular file (or nothing yet) is replaced only when complete (<see cref="Dino.IO.ReplacingFile"/>),
/// so an interrupted or failed run never leaves a file that looks whole. A link is written
/// through: the file it names is replaced and the link stays. A device or FIFO (/dev/null, /dev/full,
/// a pipe) is written straight to, never replaced. This process's own standard output or error
/// (/dev/stdout, /dev/fd/1, /proc/self/fd/2, ...) is written through the handle it inherited, so that a
/// pipe works and a shell's `>> file` appends.
/// </summary>
internal sealed class AtomicFile : IDisposable
{
    private readonly string _path;
    private readonly Dino.IO.ReplacingFile? _replacing;  // null when writing straight to a device or FIFO
    private bool _committed;

    /// <summary>The outputs this run has finished, by this class or by the library (for the signal handlers' message).</summary>
    private static readonly List<string> Finished = new();

    /// <summary>Notes an output the library wrote and committed itself (dino quantize's OUT).</summary>
    public static void RecordFinished(string path)
    {
        lock (Finished) Finished.Add(path);
    }

    /// <summary>What a stopped run left: "no output was written", or the outputs it had finished.</summary>
    public static string WhatWasWritten()
    {
        lock (Finished)
            return Finished.Count == 0 ? "no output was written"
                : $"{string.Join(", ", Finished)} had been written in full before it; the rest of the run was not done";
    }

    public AtomicFile(string path)
    {
        _path = Path.GetFullPath(path);
        if (StandardStream(_path) is int fd and > 0)
        {
            Stream = fd == 1 ? Console.OpenStandardOutput() : Console.OpenStandardError();
            return;
        }
        if (new FileInfo(_path).LinkTarget != null)
            _path = File.ResolveLinkTarget(_path, returnFinalTarget: true)?.FullName ?? _path;
        string? kind = Dino.IO.RegularFile.NonRegularKind(_path);
        if (kind == "a folder") throw new UsageException($"{path}: is a folder, not a file");
        if (kind != null)
        {
            Stream = new FileStream(_path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite, 1 << 16);
            return;
        }
        string dir = Path.GetDirectoryName(_path)!;
        if (!Directory.Exists(dir)) throw new UsageException($"{dir}: no such folder for the output");
        _replacing = new Dino.IO.ReplacingFile(_path);
        Stream = _replacing.Stream;
    }

    public Stream Stream { get; } = null!;

    /// <summary>1 or 2 where path names this process's standard output or error, else 0 (also on Windows).</summary>
    public static int StandardStream(string path)
    {
        if (OperatingSystem.IsWindows()) return 0;
        string full = Path.GetFullPath(path);
        if (full == "/dev/stdout") return 1;
        if (full == "/dev/stderr") return 2;
        foreach (string folder in new[] { "/dev/fd/", "/proc/self/fd/" })
        {
            if (full.StartsWith(folder, StringComparison.Ordinal) && full[folder.Length..] is "1" or "2") return full[^1] - '0';
        }
        return 0;
    }

    public void Commit()
    {
        if (_replacing == null)
        {
            Stream.Flush();
            Stream.Dispose();
        }
        else
        {
            _replacing.Commit();
            RecordFinished(_path);
        }
        _committed = true;
    }

    public void Dispose()
    {
        if (_committed) return;
        if (_replacing != null) _replacing.Dispose();
        else
        {
            try { Stream.Dispose(); }
            catch (IOException) { }  // flushing what is left fails again on a full disk
        }
    }

    /// <summary>Deletes every pending temporary file: the last thing a run stopped by a signal does.</summary>
    public static void DeleteAllPending() => Dino.IO.ReplacingFile.DeleteAllPending();
}
