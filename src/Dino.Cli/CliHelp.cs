using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using System.CommandLine.Parsing;

namespace Dino.Cli;

/// <summary>
/// Adds each command's details and examples after its --help (the command list stays one line each), and finds
/// options the command does not have.
/// </summary>
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

    /// <summary>
    /// The first argument before '--' that looks like an option but is none of the command's (null if none).
    /// The parser takes such a word as a path ('embed --nomalize x.jpg' would look for a file named
    /// "--nomalize"); a misspelt option is a usage error instead. Negative numbers pass as values.
    /// </summary>
    public static string? UnknownOption(ParseResult parsed, IReadOnlyList<string> args)
    {
        var known = new Dictionary<string, Option>(StringComparer.Ordinal);
        for (SymbolResult? r = parsed.CommandResult; r != null; r = r.Parent)
        {
            if (r is not CommandResult c) continue;
            foreach (var o in c.Command.Options)
                foreach (string name in o.Aliases.Append(o.Name)) known.TryAdd(name, o);
        }
        for (int i = 0; i < args.Count; i++)
        {
            string a = args[i];
            if (a == "--") break;
            if (a.Length < 2 || a[0] != '-') continue;
            int sep = a.IndexOfAny(new[] { '=', ':' });
            string name = sep > 0 ? a[..sep] : a;
            if (known.TryGetValue(name, out var option))
            {
                if (sep < 0 && option.ValueType != typeof(bool) && option.Arity.MaximumNumberOfValues > 0) i++;  // its value
                continue;
            }
            if (double.TryParse(a, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out _)) continue;
            return a;
        }
        return null;
    }

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
