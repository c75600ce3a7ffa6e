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
                Assert.Contains("runtimes/linux-x64/native/libdino.so", names);
                foreach (string v in new[] { "avx512", "avx2", "avx", "noavx" })
                    Assert.Contains($"runtimes/linux-x64/native/{v}/libggml-cpu.so", names);
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
                using var model = DinoModel.Load(args[0]);
                var e = model.Embed(args[1]);
                Console.WriteLine(string.Join(" ", e.Embedding.Select(v => v.ToString("R", System.Globalization.CultureInfo.InvariantCulture))));
                """);
            // The feed plus the machine's package cache as sources: no network needed, nothing of the repo referenced.
            string cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
                           ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
            Run("dotnet", $"restore --source \"{feed}\" --source \"{cache}\" --packages \"{Path.Combine(work, "packages")}\"", app);
            Run("dotnet", "build --no-restore -c Release -o out", app);
            string stdout = Run("dotnet", $"out/app.dll \"{TestData.Data("vits8-hf-f32.gguf")}\" \"{TestData.Image("photo.jpg")}\"", app);

            float[] theirs = stdout.Trim().Split(' ').Select(s => float.Parse(s, CultureInfo.InvariantCulture)).ToArray();
            float[] ours = models.Hf.Embed(TestData.Image("photo.jpg")).Embedding;
            Assert.Equal(ours, theirs);

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

    private string Run(string file, string args, string cwd)
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
        Assert.True(p.ExitCode == 0, $"{file} {args} exited with {p.ExitCode}:\n{stdout}\n{stderr.Result}");
        return stdout;
    }
}
