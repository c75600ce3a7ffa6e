using System.CommandLine;
using System.Runtime.InteropServices;
using Dino;
using Dino.Cli;

var root = new RootCommand("""
    dino: DINO ViT image embeddings on the CPU (Dino.Native).

    Exit codes: 0 ok, 1 some inputs failed, 2 usage error, 3 model error, 130 interrupted (SIGINT, Ctrl+C),
    143 terminated (SIGTERM).
    Data goes to stdout or the -o file; progress and messages go to stderr.
    """)
{
    EmbedCommand.Create(),
    SimilarCommand.Create(),
    KnnCommand.CreateKnn(),
    KnnCommand.CreateClassify(),
    AttentionCommand.Create(),
    PreprocessCommand.Create(),
    QuantizeCommand.Create(),
    InfoCommand.Create(),
    BenchCommand.Create(),
};

CliHelp.Install(root);
ParseResult parsed = root.Parse(args);
if (!CliHelp.Requested(parsed) && CliHelp.UnknownOption(parsed, args) is string unknown)
{
    string command = parsed.CommandResult.Command is RootCommand ? "dino" : $"dino {parsed.CommandResult.Command.Name}";
    Console.Error.WriteLine($"dino: error: unknown option '{unknown}' for '{command}' (a path that begins with '-' goes after '--')");
    Console.Error.WriteLine($"Try '{command} --help'.");
    return ExitCode.Usage;
}
// Errors stop the run, except where help was asked for; a command that does not exist stops it even then
// (`dino nosuch --help` would print the root help and succeed).
if (parsed.Errors.Count > 0 && (!CliHelp.Requested(parsed) || parsed.UnmatchedTokens.Count > 0))
{
    foreach (var e in parsed.Errors) Console.Error.WriteLine($"dino: {Plain(e.Message)}");
    if (parsed.Errors.Any(e => e.Message.Contains("'--model' is required", StringComparison.Ordinal)))
        Console.Error.WriteLine($"The model goes after -m: dino {parsed.CommandResult.Command.Name} -m MODEL.gguf ...");
    Console.Error.WriteLine("Try 'dino --help' or 'dino <command> --help'.");
    return ExitCode.Usage;
}
// SIGINT and SIGTERM cancel the run: the command stops at its next check (native compute included), its
// outputs' temporary files are deleted, and the exit code says which signal. A run that has not stopped
// 5 s later (or a second signal) is ended here, its temporary files deleted all the same.
using var stop = new CancellationTokenSource();
int stoppedBy = 0;
void OnSignal(PosixSignalContext c)
{
    c.Cancel = true;  // we end the process ourselves, after cleaning up
    int code = c.Signal == PosixSignal.SIGTERM ? 143 : 130;
    if (Interlocked.CompareExchange(ref stoppedBy, code, 0) != 0) ForceExit(code);
    stop.Cancel();
    _ = Task.Delay(TimeSpan.FromSeconds(5)).ContinueWith(_ => ForceExit(code), TaskScheduler.Default);
}
using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
try
{
    return await parsed.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null }, stop.Token);
}
catch (OperationCanceledException) when (stoppedBy != 0) { return Interrupted(stoppedBy); }
catch (UsageException e) { return Fail(e.Message, ExitCode.Usage); }
catch (ArgumentException e) { return Fail(e.ParamName is string p ? e.Message.Replace($" (Parameter '{p}')", "") : e.Message, ExitCode.Usage); }
catch (DinoModelException e) { return Fail(e.Message, ExitCode.ModelError); }
catch (DinoNativeException e) { return Fail(e.Message, ExitCode.ModelError); }
catch (DinoImageException e) { return Fail(e.Message, ExitCode.SomeInputsFailed); }
catch (InvalidDataException e) { return Fail(e.Message, ExitCode.SomeInputsFailed); }
catch (OperationCanceledException) { return Interrupted(130); }
catch (IOException e) { return Fail(e.Message, ExitCode.SomeInputsFailed); }
catch (UnauthorizedAccessException e) { return Fail(e.Message, ExitCode.SomeInputsFailed); }

static int Interrupted(int code)
{
    AtomicFile.DeleteAllPending();
    return Fail($"{(code == 143 ? "terminated (SIGTERM)" : "interrupted (SIGINT)")}; {AtomicFile.WhatWasWritten()}", code);
}

static void ForceExit(int code)
{
    AtomicFile.DeleteAllPending();
    Console.Error.WriteLine($"dino: error: {(code == 143 ? "terminated (SIGTERM)" : "interrupted (SIGINT)")}; {AtomicFile.WhatWasWritten()}");
    Environment.Exit(code);
}

// The parser's messages name .NET types ("as expected type 'System.Int32'"): say what the user should type.
static string Plain(string message) => System.Text.RegularExpressions.Regex.Replace(message, @"as expected type '([^']*)'",
    m => m.Groups[1].Value.Contains("Int") ? "as a whole number" : m.Groups[1].Value.Contains("Double") || m.Groups[1].Value.Contains("Single") ? "as a number" : "here");

static int Fail(string message, int code)
{
    Console.Error.WriteLine($"dino: error: {message}");
    return code;
}
