using System.Diagnostics;
using System.Globalization;
using Xunit.Abstractions;

namespace Dino.Tests;

/// <summary>
/// The package works for a consumer with nothing of this repository: pack it into a folder feed, create a
/// console app that references it by version, run it, and compare its embedding with ours.
/// </summary>
[Collection("models")]
public class PackageTests(ModelFixture models, ITestOutputHelper output)
{
    [Fact]
    public void PackedPackagesWorkForAConsoleAppAndAsATool()
    {
        string work = Directory.CreateTempSubdirectory("dino-pkg-").FullName;
        try
        {
            // A version no earlier run has put in any NuGet cache.
            string version = "0.1.0-test." + DateTime.UtcNow.ToString("yyyyMMddHHmmssfff", CultureInfo.InvariantCulture);
            string feed = Path.Combine(work, "feed");
            Run("dotnet", $"pack \"{Path.Combine(TestData.RepoRoot, "src", "Dino.Native")}\" -c Release -o \"{feed}\" -p:Version={version}", TestData.RepoRoot);
            string nupkg = Path.Combine(feed, $"Dino.Native.{version}.nupkg");
            Assert.True(File.Exists(nupkg), "no package at " + nupkg);
            using (var zip = System.IO.Compression.ZipFile.OpenRead(nupkg))
            {
                var names = zip.Entries.Select(e => e.FullName).ToHashSet();
                Assert.Contains("nativeassets/linux-x64/native/libdino.so", names);
                Assert.Contains("nativeassets/linux-x64/native/libggml-base.so", names);  // once: the variants' copies are identical
                foreach (string v in TestData.CpuLevels.Select(l => l.Level))
                {
                    Assert.Contains($"nativeassets/linux-x64/native/{v}/libggml-cpu.so", names);
                    Assert.DoesNotContain($"nativeassets/linux-x64/native/{v}/libggml-base.so", names);
                }
                if (CrossRids.Contains("linux-arm64"))
                {
                    foreach (string f in new[] { "libdino.so", "libggml-base.so", "libggml-cpu.so" })
                        Assert.Contains($"nativeassets/linux-arm64/native/{f}", names);
                }
                if (CrossRids.Contains("win-x64"))
                {
                    Assert.Contains("nativeassets/win-x64/native/dino.dll", names);
                    Assert.Contains("nativeassets/win-x64/native/ggml-base.dll", names);  // (and a variant's own where it differs)
                    foreach (string v in TestData.CpuLevels.Select(l => l.Level))
                        Assert.Contains($"nativeassets/win-x64/native/{v}/ggml-cpu.dll", names);
                }
                Assert.Contains("buildTransitive/Dino.Native.targets", names);
                // The decoder is a private copy, renamed, beside the library; apps compile against ref/, without it.
                foreach (string tfm in new[] { "net8.0", "net10.0" })
                {
                    Assert.Contains($"lib/{tfm}/Dino.Native.PrivateImageSharp.dll", names);
                    Assert.Contains($"ref/{tfm}/Dino.Native.dll", names);
                    Assert.DoesNotContain($"ref/{tfm}/Dino.Native.PrivateImageSharp.dll", names);
                }
                using var nuspec = new StreamReader(zip.GetEntry("Dino.Native.nuspec")!.Open());
                Assert.DoesNotContain("SixLabors", nuspec.ReadToEnd());
                Assert.DoesNotContain(names, n => n.StartsWith("runtimes/", StringComparison.Ordinal));  // NuGet would flatten the variants
                Assert.Contains("THIRD-PARTY-NOTICES.md", names);
            }

            string app = Path.Combine(work, "app");
            Directory.CreateDirectory(app);
            File.WriteAllText(Path.Combine(app, "app.csproj"), $"""
                <Project Sdk="Microsoft.NET.Sdk">
                  <PropertyGroup><OutputType>Exe</OutputType><TargetFramework>net10.0</TargetFramework><ImplicitUsings>enable</ImplicitUsings></PropertyGroup>
                  <ItemGroup><PackageReference Include="Dino.Native" Version="{version}" /></ItemGroup>
                </Project>
                """);
            File.WriteAllText(Path.Combine(app, "Program.cs"), """
                using Dino;
                try
                {
                    using var model = DinoModel.Load(args[0]);
                    Console.Error.WriteLine($"kernels: {model.Info.Kernels}");
                    var e = model.Embed(args[1]);
                    Console.WriteLine(string.Join(" ", e.Embedding.Select(v => v.ToString("R", System.Globalization.CultureInfo.InvariantCulture))));
                }
                catch (DinoException e)
                {
                    Console.Error.WriteLine($"{e.GetType().Name}: {e.Message}");
                    return 3;
                }
                return 0;
                """);
            // The feed as one more package source (the machine's own sources bring the runtime packs a
            // RID-specific publish needs); a private package folder, so nothing stale is picked up.
            File.WriteAllText(Path.Combine(app, "nuget.config"), $"""
                <configuration><packageSources><add key="dino-test-feed" value="{feed}" /></packageSources></configuration>
                """);
            File.WriteAllText(Path.Combine(app, "Directory.Build.props"), $"""
                <Project><PropertyGroup><RestorePackagesPath>{Path.Combine(work, "packages")}</RestorePackagesPath></PropertyGroup></Project>
                """);
            Run("dotnet", "restore", app);
            Run("dotnet", "build --no-restore -c Release -o out", app);

            // Every C# block of the README compiles against the package, each as a console app's Program.cs.
            var blocks = System.Text.RegularExpressions.Regex.Matches(File.ReadAllText(Path.Combine(TestData.RepoRoot, "README.md")),
                "^```csharp\n(.*?)^```", System.Text.RegularExpressions.RegexOptions.Singleline | System.Text.RegularExpressions.RegexOptions.Multiline);
            Assert.NotEmpty(blocks);
            for (int i = 0; i < blocks.Count; i++)
            {
                string readme = Path.Combine(work, $"readme{i}");
                Directory.CreateDirectory(readme);
                foreach (string f in new[] { "nuget.config", "Directory.Build.props" }) File.Copy(Path.Combine(app, f), Path.Combine(readme, f));
                // A block's "// dotnet add package NAME --version V" lines are its other packages.
                string source = blocks[i].Groups[1].Value;
                string refs = string.Concat(System.Text.RegularExpressions.Regex.Matches(source, @"^// dotnet add package (\S+) --version (\S+)$", System.Text.RegularExpressions.RegexOptions.Multiline)
                    .Select(m => $"<PackageReference Include=\"{m.Groups[1].Value}\" Version=\"{m.Groups[2].Value}\" />"));
                File.WriteAllText(Path.Combine(readme, $"readme{i}.csproj"), File.ReadAllText(Path.Combine(app, "app.csproj")).Replace("</ItemGroup>", refs + "</ItemGroup>"));
                File.WriteAllText(Path.Combine(readme, "Program.cs"), source);
                // A block of types only (no statements to run) is a class library's source.
                bool statements = source.Split('\n').Any(l => l.Length > 0 && !char.IsWhiteSpace(l[0]) && !l.StartsWith("//") && !(l.StartsWith("using ") && !l.StartsWith("using var ")) &&
                                                           !l.StartsWith("public ") && !l.StartsWith("internal ") && !l.StartsWith("[") && !l.StartsWith("{") && !l.StartsWith("}"));
                Run("dotnet", "build -c Release" + (statements ? "" : " -p:OutputType=Library"), readme);
            }

            string stdout = Run("dotnet", $"out/app.dll \"{TestData.Data("vits8-hf-f32.gguf")}\" \"{TestData.Image("photo.jpg")}\"", app);

            float[] ours = models.Hf.Embed(TestData.Image("photo.jpg")).Embedding;
            Assert.Equal(ours, Parse(stdout));
            Assert.Equal(ours, Parse(Run("dotnet", $"run -c Release --no-restore -- \"{TestData.Data("vits8-hf-f32.gguf")}\" \"{TestData.Image("photo.jpg")}\"", app)));

            // An app with an ImageSharp of its own, 4.x (the registry's newest; its licence check stops a Release build
            // without a key, so Debug): a JPEG path embeds as above (Dino.Native decodes it with its private 2.1.13), and
            // an Image the app decoded embeds through the Dino.Native.ImageSharp source as its PNG's path does.
            Run("dotnet", $"pack \"{Path.Combine(TestData.RepoRoot, "src", "Dino.Native.ImageSharp")}\" -c Release -o \"{feed}\" -p:Version={version}", TestData.RepoRoot);
            string withImageSharp = Path.Combine(work, "app-imagesharp4");
            Directory.CreateDirectory(withImageSharp);
            foreach (string f in new[] { "nuget.config", "Directory.Build.props" }) File.Copy(Path.Combine(app, f), Path.Combine(withImageSharp, f));
            File.WriteAllText(Path.Combine(withImageSharp, "app.csproj"), File.ReadAllText(Path.Combine(app, "app.csproj")).Replace("</ItemGroup>",
                $"<PackageReference Include=\"Dino.Native.ImageSharp\" Version=\"{version}\" /><PackageReference Include=\"SixLabors.ImageSharp\" Version=\"4.1.3\" /></ItemGroup>"));
            File.WriteAllText(Path.Combine(withImageSharp, "Program.cs"), """
                using Dino;
                using SixLabors.ImageSharp;
                using var model = DinoModel.Load(args[0]);
                Console.Error.WriteLine($"app's ImageSharp: {typeof(Image).Assembly.GetName().Version}");
                var jpeg = model.Embed(args[1]);
                using var png = Image.Load(args[2]);
                bool same = model.Embed(png).Embedding.SequenceEqual(model.Embed(args[2]).Embedding);
                Console.WriteLine(string.Join(" ", jpeg.Embedding.Select(v => v.ToString("R", System.Globalization.CultureInfo.InvariantCulture))));
                Console.WriteLine(same ? "the Image embeds as its file" : "the Image embeds differently");
                """);
            Run("dotnet", "build -c Debug -o out", withImageSharp);  // (its licence check's warning goes to the build's output)
            var (code4, out4, err4) = RunRaw("dotnet", $"out/app.dll \"{TestData.Data("vits8-hf-f32.gguf")}\" \"{TestData.Image("photo.jpg")}\" \"{TestData.Image("rgb.png")}\"", withImageSharp);
            Assert.True(code4 == 0, $"the app with ImageSharp 4.x failed: {err4}");
            Assert.Contains("app's ImageSharp: 4.", err4);
            Assert.Equal(ours, Parse(out4.Split('\n')[0]));
            Assert.Contains("the Image embeds as its file", out4);

            // A missing native file is a DinoNativeException naming what was tried, not a crash.
            File.Delete(Path.Combine(app, "out", "runtimes", "linux-x64", "native", "libggml-base.so"));
            var (code, _, err) = RunRaw("dotnet", $"out/app.dll \"{TestData.Data("vits8-hf-f32.gguf")}\" \"{TestData.Image("photo.jpg")}\"", app);
            Assert.Equal(3, code);
            Assert.Contains("DinoNativeException", err);
            Assert.Contains("libggml-base.so: not found", err);
            string[] tried = err.Split('\n').Where(l => l.StartsWith("  ", StringComparison.Ordinal)).ToArray();
            Assert.Equal(tried.Distinct().ToArray(), tried);  // each place once

            // Every way an app reaches a machine: published for its RID, then run from its folder moved
            // elsewhere (nothing may point back into the build tree or the package cache).
            string modelArgs = $"\"{TestData.Data("vits8-hf-f32.gguf")}\" \"{TestData.Image("photo.jpg")}\"";
            foreach (var (name, flags, exe) in new[]
            {
                ("framework-dependent", "--self-contained false", "dotnet app.dll"),
                ("self-contained", "--self-contained true", "./app"),
                ("single-file", "--self-contained true -p:PublishSingleFile=true", "./app"),
                ("native-aot", "-p:PublishAot=true", "./app"),
            })
            {
                string published = Path.Combine(work, "publish-" + name);
                Run("dotnet", $"publish -c Release -r linux-x64 {flags} -o \"{published}\"", app);
                string moved = Path.Combine(work, "moved", name);
                Directory.CreateDirectory(Path.GetDirectoryName(moved)!);
                Directory.Move(published, moved);
                Assert.True(File.Exists(Path.Combine(moved, "runtimes", "linux-x64", "native", "avx2", "libggml-cpu.so")), $"{name}: no avx2 variant");
                if (name == "single-file")
                    Assert.Equal(new[] { "app" }, Directory.GetFiles(moved).Select(Path.GetFileName).Where(f => !f!.EndsWith(".pdb")).ToArray());
                string[] parts = exe.Split(' ', 2);
                string got = Run(parts[0] == "dotnet" ? "dotnet" : Path.Combine(moved, "app"), (parts.Length > 1 ? parts[1] + " " : "") + modelArgs, moved);
                // NativeAOT compiles the managed preprocessing for baseline x64 (the JIT uses AVX2/AVX-512
                // vectors), which moves JPEG decoding and resizing by float rounding: ~2e-6 on the CLS.
                float[] theirs = Parse(got);
                double maxAbs = ours.Zip(theirs, (a, b) => Math.Abs(a - b)).Max();
                output.WriteLine($"{name}: CLS max abs difference {maxAbs:E2}");
                Assert.True(maxAbs <= 1e-5, $"{name}: CLS differs by {maxAbs}");
            }

            // Windows: a self-contained win-x64 publish, run under wine (scripts/wine.sh) from its moved folder.
            if (CrossRids.Contains("win-x64"))
            {
                string published = Path.Combine(work, "publish-win-x64");
                Run("dotnet", $"publish -c Release -r win-x64 --self-contained true -o \"{published}\"", app);
                string moved = Path.Combine(work, "moved", "win-x64");
                Directory.Move(published, moved);
                Assert.True(File.Exists(Path.Combine(moved, "runtimes", "win-x64", "native", "avx2", "ggml-cpu.dll")), "win-x64: no avx2 variant");
                float[] theirs = Parse(Run(Path.Combine(TestData.RepoRoot, "scripts", "wine.sh"), $"\"{Path.Combine(moved, "app.exe")}\" {modelArgs}", moved));
                double maxAbs = ours.Zip(theirs, (a, b) => Math.Abs(a - b)).Max();
                output.WriteLine($"win-x64 under wine: CLS max abs difference {maxAbs:E2}");
                Assert.True(maxAbs <= 1e-5, $"win-x64: CLS differs by {maxAbs}");

                // Without the VC++ runtime's OpenMP (wine's own vcomp140 switched off): the prebuilt (MSVC) ggml
                // cannot load, and the error says what to install; ggml built from native/ggml (MinGW, the GCC
                // runtime linked in) needs nothing and runs.
                RefusedOnlyWhereNeeded(Path.Combine(moved, "runtimes", "win-x64", "native", "avx2", "ggml-cpu.dll"), "VCOMP140.dll",
                    RunRaw("env", $"WINEDLLOVERRIDES=vcomp140=d \"{Path.Combine(TestData.RepoRoot, "scripts", "wine.sh")}\" \"{Path.Combine(moved, "app.exe")}\" {modelArgs}", moved),
                    "Visual C++ 2015-2022 Redistributable");
            }
            else
            {
                output.WriteLine("win-x64 publish not tested: DINO_TEST_RIDS does not name it (scripts/test.sh does)");
            }

            // linux-arm64: a self-contained publish, run under qemu (scripts/qemu-arm64.sh, Debian 13's glibc)
            // on tiny models (a 224 image takes minutes emulated): f32 on a Cortex-A72 (our neon build) and
            // q8_0 on qemu's max CPU (the i8mm build, smmla, and int8 attention: arm64's default for int8
            // weights), each equal to this machine's result with the same attention.
            if (CrossRids.Contains("linux-arm64"))
            {
                string published = Path.Combine(work, "publish-linux-arm64");
                Run("dotnet", $"publish -c Release -r linux-arm64 --self-contained true -o \"{published}\"", app);
                string moved = Path.Combine(work, "moved", "linux-arm64");
                Directory.Move(published, moved);
                Assert.True(File.Exists(Path.Combine(moved, "runtimes", "linux-arm64", "native", "libggml-cpu.so")), "linux-arm64: no ggml");
                string qemu = Path.Combine(TestData.RepoRoot, "scripts", "qemu-arm64.sh");
                const string invariant = "DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1";  // the sysroot has no ICU
                foreach (var (cpu, model, kernels, attention) in new[]
                         {
                             ("cortex-a72", "tiny-hf-f32.gguf", "neon", AttentionKernel.Flash),
                             ("max", "tiny-dino-q8_0.gguf", "i8mm-int8", AttentionKernel.Int8),
                         })
                {
                    string args = $"\"{TestData.Data(model)}\" \"{TestData.Image("photo.jpg")}\"";
                    var (code3, got, err3) = RunRaw("env", $"QEMU_CPU={cpu} {invariant} \"{qemu}\" \"{Path.Combine(moved, "app")}\" {args}", moved);
                    Assert.True(code3 == 0, $"linux-arm64 on {cpu}: exit {code3}: {err3}");
                    Assert.Contains($"linear {kernels}, attention {kernels}", err3);
                    // The attention arm64 runs by default, named (this CPU's default may differ: bf16 attention).
                    using var reference = DinoModel.Load(TestData.Data(model), new DinoModelOptions { Attention = attention });
                    float[] mine = reference.Embed(TestData.Image("photo.jpg")).Embedding, theirs = Parse(got);
                    double maxAbs = mine.Zip(theirs, (a, b) => Math.Abs(a - b)).Max(), scale = mine.Max(Math.Abs);
                    output.WriteLine($"linux-arm64 under qemu ({cpu}, {model}): CLS max abs difference {maxAbs:E2} of {scale:F2}");
                    Assert.True(maxAbs <= 1e-5 * Math.Max(1, scale), $"linux-arm64 on {cpu}: CLS differs by {maxAbs}");
                }
                // On Debian 12's glibc 2.36 (the cross toolchain's own libraries): the prebuilt ggml, which needs
                // glibc 2.38, cannot load, and the error says why; ggml built from native/ggml (against 2.36) runs.
                RefusedOnlyWhereNeeded(Path.Combine(moved, "runtimes", "linux-arm64", "native", "libggml-base.so"), "GLIBC_2.38",
                    RunRaw("env", $"QEMU_LD_PREFIX=/usr/aarch64-linux-gnu {invariant} \"{qemu}\" \"{Path.Combine(moved, "app")}\" \"{TestData.Data("tiny-hf-f32.gguf")}\" \"{TestData.Image("photo.jpg")}\"", moved),
                    "need glibc 2.38 or newer; this system has glibc 2.36");
            }
            else
            {
                output.WriteLine("linux-arm64 publish not tested: DINO_TEST_RIDS does not name it (scripts/test.sh does)");
            }

            // The CLI as a .NET tool, installed from the same feed.
            Run("dotnet", $"pack \"{Path.Combine(TestData.RepoRoot, "src", "Dino.Cli")}\" -c Release -o \"{feed}\" -p:Version={version}", TestData.RepoRoot);
            string tools = Path.Combine(work, "tools");
            Run("dotnet", $"tool install Dino.Cli --version {version} --tool-path \"{tools}\" --add-source \"{feed}\"", work);
            string info = Run(Path.Combine(tools, "dino"), $"info \"{TestData.Data("vits8-hf-f32.gguf")}\"", work);
            Assert.Contains("12 blocks", info);
        }
        finally
        {
            try { Directory.Delete(work, recursive: true); } catch (IOException) { }
        }
    }

    // The cross-built RIDs this run has native files for and can run (scripts/test.sh names them).
    private static readonly string[] CrossRids =
        (Environment.GetEnvironmentVariable("DINO_TEST_RIDS") ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries);

    // A run on a system without something: where the packed library needs it (its bytes name it), the app
    // exits 3 with a DinoNativeException that says so; where it does not, the app runs.
    private static void RefusedOnlyWhereNeeded(string library, string needs, (int code, string stdout, string stderr) run, string message)
    {
        if (System.Text.Encoding.Latin1.GetString(File.ReadAllBytes(library)).Contains(needs, StringComparison.OrdinalIgnoreCase))
        {
            Assert.Equal(3, run.code);
            Assert.Contains("DinoNativeException", run.stderr);
            Assert.Contains(message, run.stderr);
        }
        else
        {
            Assert.True(run.code == 0, $"{Path.GetFileName(library)} does not need {needs}, yet the app failed: {run.stderr}");
        }
    }

    private static float[] Parse(string stdout) =>
        stdout.Trim().Split(' ').Select(s => float.Parse(s, CultureInfo.InvariantCulture)).ToArray();

    private string Run(string file, string args, string cwd)
    {
        var (code, stdout, stderr) = RunRaw(file, args, cwd);
        Assert.True(code == 0, $"{file} {args} exited with {code}:\n{stdout}\n{stderr}");
        return stdout;
    }

    private (int code, string stdout, string stderr) RunRaw(string file, string args, string cwd)
    {
        var psi = new ProcessStartInfo(file, args)
        {
            WorkingDirectory = cwd,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        output.WriteLine($"$ {file} {args}\n{stdout}{stderr.Result}");
        return (p.ExitCode, stdout, stderr.Result);
    }
}
