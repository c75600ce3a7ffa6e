using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;

namespace Dino.Tests;

public class BindingTests
{
    [Fact]
    public void EveryFunctionOfTheHeaderHasABinding()
    {
        string header = File.ReadAllText(Path.Combine(TestData.RepoRoot, "native", "dino.h"));
        var declared = Regex.Matches(header, @"DINO_API\s+[^;]*?\b(dino_\w+)\s*\(").Select(m => m.Groups[1].Value).ToHashSet();
        Assert.True(declared.Count >= 15, $"parsed only {declared.Count} functions from dino.h");

        var native = typeof(DinoModel).Assembly.GetType("Dino.Interop.NativeMethods", throwOnError: true)!;
        var bound = native.GetMethods(BindingFlags.Static | BindingFlags.NonPublic | BindingFlags.Public)
            .Select(m => m.GetCustomAttribute<LibraryImportAttribute>())
            .Where(a => a != null)
            .Select(a => a!.EntryPoint!)
            .ToHashSet();
        Assert.Empty(declared.Except(bound));  // declared but not bound
        Assert.Empty(bound.Except(declared));  // bound but gone from the header
    }

    [Fact]
    public void NativeLibraryLoadsTheBestVariant()
    {
        Assert.Contains("ggml 0.18.0", DinoNativeLibrary.Version);
        Assert.Contains(DinoNativeLibrary.SupportedCpuVariants[0], DinoNativeLibrary.LoadedFrom);
    }

    [Fact]
    public void TheCpuLevelsAreTheTablesLevelsThisCpuHasTheFeaturesFor()
    {
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64) return;
        // The kernel's own list of this CPU's features, against the loader's checks of each feature the table names.
        var flags = File.ReadLines("/proc/cpuinfo").First(l => l.StartsWith("flags", StringComparison.Ordinal))
            .Split(':')[1].Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet();
        var levels = TestData.CpuLevels;
        Assert.Equal(new[] { "avx512", "avx2", "avx", "noavx" }, levels.Select(l => l.Level));
        var expected = levels.Where(l => l.Needs.All(flags.Contains)).Select(l => l.Level);
        Assert.Equal(expected, DinoNativeLibrary.SupportedCpuVariants);
    }
}
