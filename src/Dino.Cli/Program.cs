using System.CommandLine;
using Dino;
using Dino.Cli;

var root = new RootCommand("""
    dino: DINO ViT image embeddings on the CPU (Dino.Native).

    Exit codes: 0 ok, 1 some inputs failed, 2 usage error, 3 model error, 130 interrupted.
    Data goes to stdout or the -o file; progress and messages go to stderr.
    """)
{
    EmbedCommand.Create(),
    SimilarCommand.Create(),
    AttentionCommand.Create(),
    PreprocessCommand.Create(),
    QuantizeCommand.Create(),
    InfoCommand.Create(),
    BenchCommand.Create(),
};

CliHelp.Install(root);
ParseResult parsed = root.Parse(args);
if (parsed.Errors.Count > 0 && !CliHelp.Requested(parsed))
{
    foreach (var e in parsed.Errors) Console.Error.WriteLine($"dino: {e.Message}");
    Console.Error.WriteLine("Try 'dino --help' or 'dino <command> --help'.");
    return ExitCode.Usage;
}
try
{
    return await parsed.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
}
catch (UsageException e) { return Fail(e.Message, ExitCode.Usage); }
catch (ArgumentException e) { return Fail(e.Message, ExitCode.Usage); }
catch (DinoModelException e) { return Fail(e.Message, ExitCode.ModelError); }
catch (DinoNativeException e) { return Fail(e.Message, ExitCode.ModelError); }
catch (DinoImageException e) { return Fail(e.Message, ExitCode.SomeInputsFailed); }
catch (InvalidDataException e) { return Fail(e.Message, ExitCode.SomeInputsFailed); }
catch (OperationCanceledException) { return Fail("interrupted; no output was written", 130); }
catch (IOException e) { return Fail(e.Message, ExitCode.SomeInputsFailed); }
catch (UnauthorizedAccessException e) { return Fail(e.Message, ExitCode.SomeInputsFailed); }

static int Fail(string message, int code)
{
    Console.Error.WriteLine($"dino: error: {message}");
    return code;
}
