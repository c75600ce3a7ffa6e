using System.Diagnostics;
using System.Globalization;

namespace Dino.Cli;

/// <summary>The process's peak resident memory (also compiled into bench/Dino.Bench).</summary>
internal static class PeakRss
{
    /// <summary>VmHWM from /proc/self/status (Linux); the working set peak elsewhere.</summary>
    public static long Bytes()
    {
        try
        {
            foreach (string line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                    return long.Parse(line[6..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
        }
        catch (IOException) { }
        return Process.GetCurrentProcess().PeakWorkingSet64;
    }
}
