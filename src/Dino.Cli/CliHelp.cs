using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;

namespace Dino.Cli;

/// <summary>Adds each command's details and examples after its --help (the command list stays one line each).</summary>
internal static class CliHelp
{
    private static readonly Dictionary<Command, string> Details = new();

    public static void AddDetails(Command command, string text) => Details[command] = text;

    public static void Install(RootCommand root)
    {
        var help = root.Options.OfType<HelpOption>().Single();
        help.Action = new WithDetails((SynchronousCommandLineAction)help.Action!);
    }

    /// <summary>--help wins over missing required options.</summary>
    public static bool Requested(ParseResult parsed) => parsed.Action is WithDetails;

    private sealed class WithDetails(SynchronousCommandLineAction inner) : SynchronousCommandLineAction
    {
        public override int Invoke(ParseResult parseResult)
        {
            int rc = inner.Invoke(parseResult);
            if (Details.TryGetValue(parseResult.CommandResult.Command, out string? text))
                parseResult.InvocationConfiguration.Output.WriteLine(text.TrimEnd() + Environment.NewLine);
            return rc;
        }
    }
}
