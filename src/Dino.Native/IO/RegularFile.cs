using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Dino.IO;

/// <summary>
/// Opens files for reading only when they are regular files (links followed). .NET opens a FIFO with a
/// blocking open(2), so a FIFO named like an image would hang the caller forever, and a device such as
/// /dev/zero never ends. On Unix the file is opened with O_NONBLOCK (which a regular file ignores) and
/// refused unless it is seekable and not empty: a FIFO or socket cannot seek, a device has no size.
/// (Also compiled into the dino tool, for the .npy files it reads.)
/// </summary>
internal static partial class RegularFile
{
    /// <summary>Opens <paramref name="path"/> for reading.</summary>
    /// <exception cref="IOException">Not a regular file with data, or cannot be opened (FileNotFoundException, ...).</exception>
    /// <exception cref="UnauthorizedAccessException">No permission to read it.</exception>
    public static FileStream OpenRead(string path)
    {
        FileStream fs = OperatingSystem.IsLinux() || OperatingSystem.IsMacOS() ? OpenUnix(path)
            : new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, BufferSize);
        if (!fs.CanSeek || fs.Length == 0)
        {
            bool pipe = !fs.CanSeek;
            fs.Dispose();
            throw new IOException(pipe ? $"{path}: not a regular file (a FIFO, socket or character device)"
                                       : $"{path}: empty, or not a regular file (a device)");
        }
        return fs;
    }

    /// <summary>
    /// What is at <paramref name="path"/> (links followed) when it is not a regular file: "a FIFO", "a
    /// character device", "a folder", ...; null for a regular file, for nothing there, and where the type
    /// cannot be read (statx, Linux only).
    /// </summary>
    public static unsafe string? NonRegularKind(string path)
    {
        if (!OperatingSystem.IsLinux()) return Directory.Exists(path) ? "a folder" : null;
        byte* buf = stackalloc byte[256];  // struct statx: the same layout on every Linux architecture
        try
        {
            if (Statx(-100 /* AT_FDCWD */, path, 0, 1 /* STATX_TYPE */, buf) != 0) return null;
        }
        catch (EntryPointNotFoundException) { return null; }  // a C library without statx
        return (*(ushort*)(buf + 28) & 0xF000) switch  // stx_mode
        {
            0x8000 => null,
            0x4000 => "a folder",
            0x1000 => "a FIFO",
            0x2000 => "a character device",
            0x6000 => "a block device",
            0xC000 => "a socket",
            _ => "not a regular file",
        };
    }

    /// <summary>
    /// Whether <paramref name="a"/> and <paramref name="b"/> name the same existing file, links followed: on
    /// Linux the same device and inode (so a symbolic or hard link to an input is caught); elsewhere the
    /// same full path once symbolic links are resolved. Used so that no output is written over an input.
    /// </summary>
    public static unsafe bool SameFile(string a, string b)
    {
        if (OperatingSystem.IsLinux())
        {
            byte* x = stackalloc byte[256], y = stackalloc byte[256];
            const uint mask = 0x100;  // STATX_INO; stx_dev_major/minor are always filled
            try
            {
                if (Statx(-100, a, 0, mask, x) != 0 || Statx(-100, b, 0, mask, y) != 0) return false;
            }
            catch (EntryPointNotFoundException) { return SamePath(a, b); }
            return *(ulong*)(x + 32) == *(ulong*)(y + 32) &&                                         // stx_ino
                   *(uint*)(x + 136) == *(uint*)(y + 136) && *(uint*)(x + 140) == *(uint*)(y + 140);  // stx_dev_major, _minor
        }
        return SamePath(a, b);
    }

    private static bool SamePath(string a, string b)
    {
        static string Resolved(string p)
        {
            string full = Path.GetFullPath(p);
            return File.Exists(full) ? File.ResolveLinkTarget(full, returnFinalTarget: true)?.FullName ?? full : full;
        }
        if (!File.Exists(a) || !File.Exists(b)) return false;
        return string.Equals(Resolved(a), Resolved(b), OperatingSystem.IsWindows() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal);
    }

    /// <summary>All of a regular file's bytes.</summary>
    public static byte[] ReadAllBytes(string path)
    {
        using FileStream fs = OpenRead(path);
        if (fs.Length > Array.MaxLength) throw new IOException($"{path}: {fs.Length} bytes is too large to read");
        var bytes = new byte[fs.Length];
        fs.ReadExactly(bytes);
        return bytes;
    }

    private const int BufferSize = 1 << 16;

    private static FileStream OpenUnix(string path)
    {
        int flags = OperatingSystem.IsMacOS() ? 0x4 | 0x1000000 : 0x800 | 0x80000;  // O_RDONLY | O_NONBLOCK | O_CLOEXEC
        int fd = Open(path, flags);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            string why = Marshal.GetPInvokeErrorMessage(errno);
            throw errno switch
            {
                2 => new FileNotFoundException($"{path}: {why}", path),                           // ENOENT
                13 or 1 => new UnauthorizedAccessException($"{path}: {why}"),                       // EACCES, EPERM
                _ => new IOException($"{path}: {why}"),
            };
        }
        var handle = new SafeFileHandle(fd, ownsHandle: true);
        try
        {
            return new FileStream(handle, FileAccess.Read, BufferSize);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            handle.Dispose();
            throw new IOException($"{path}: {e.Message}", e);  // a directory, say
        }
    }

    [LibraryImport("libc", EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int Statx(int dirfd, string path, int flags, uint mask, byte* statxBuffer);

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Open(string path, int flags);
}
