namespace Dino.Cli;

/// <summary>A usage problem found after parsing (exit code 2).</summary>
internal sealed class UsageException(string message) : Exception(message);
