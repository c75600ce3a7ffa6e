// An MSBuild task (compiled by RoslynCodeTaskFactory, see src/Dino.Native/Dino.Native.csproj): a copy of an
// assembly under another name. Only the identity changes (assembly and module name); the code, its namespaces
// and its strong-name key stay (.NET does not check strong-name signatures). Mono.Cecil comes from the
// Mono.Cecil package, loaded from CecilDir.
using System;
using System.IO;
using System.Reflection;
using System.Runtime.CompilerServices;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

public sealed class DinoRenameAssembly : Task
{
    [Required] public string Source { get; set; } = "";
    [Required] public string Destination { get; set; } = "";
    [Required] public string CecilDir { get; set; } = "";

    public override bool Execute()
    {
        ResolveEventHandler resolve = (_, e) =>
        {
            string candidate = Path.Combine(CecilDir, new AssemblyName(e.Name).Name + ".dll");
            return File.Exists(candidate) ? Assembly.LoadFrom(candidate) : null;
        };
        AppDomain.CurrentDomain.AssemblyResolve += resolve;
        try
        {
            Rename();
            Log.LogMessage(MessageImportance.Normal, $"{Source} -> {Destination}");
            return true;
        }
        catch (Exception e)
        {
            Log.LogError($"renaming {Source}: {e.Message}");
            return false;
        }
        finally { AppDomain.CurrentDomain.AssemblyResolve -= resolve; }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]  // Mono.Cecil is resolved only once the handler is in place
    private void Rename()
    {
        string name = Path.GetFileNameWithoutExtension(Destination);
        Directory.CreateDirectory(Path.GetDirectoryName(Destination)!);
        // A name of its own: the inner builds of each target framework may run this at once.
        string temp = Destination + "." + Path.GetRandomFileName() + ".tmp";
        using (var assembly = Mono.Cecil.AssemblyDefinition.ReadAssembly(Source))
        {
            assembly.Name.Name = name;
            assembly.MainModule.Name = name + ".dll";
            assembly.Write(temp);
        }
        try
        {
            if (File.Exists(Destination)) File.Replace(temp, Destination, null);
            else File.Move(temp, Destination);
        }
        catch (IOException) when (File.Exists(Destination))
        {
            File.Delete(temp);  // the other build put the same bytes in place first
        }
    }
}
