namespace Dino.Cli;

/// <summary>A progress line on stderr (redrawn on a terminal, every 10% otherwise).</summary>
internal sealed class Progress(string what, int total)
{
    private readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();
    private int _lastDecile = -1;

    /// <param name="failed">Inputs that failed so far, or -1 where nothing can fail.</param>
    public void Report(int done, int failed = -1)
    {
        if (total == 0) return;
        double rate = done / Math.Max(_clock.Elapsed.TotalSeconds, 1e-9);
        string line = $"{what}: {done}/{total} ({100 * done / total}%),{(failed >= 0 ? $" {failed} failed," : "")} {rate:F1}/s{Left(done, rate)}";
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

    // ", about 3 min left" once a rate is known (after the first step), until the end.
    private string Left(int done, double rate)
    {
        if (done == 0 || done >= total || _clock.Elapsed.TotalSeconds < 1) return "";
        double seconds = (total - done) / rate;
        return seconds < 90 ? $", about {Math.Ceiling(seconds):F0} s left" : $", about {Math.Ceiling(seconds / 60):F0} min left";
    }
}
