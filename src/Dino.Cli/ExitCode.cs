namespace Dino.Cli;

/// <summary>Documented exit codes.</summary>
internal static class ExitCode
{
    public const int Ok = 0;
    public const int SomeInputsFailed = 1;
    public const int Usage = 2;
    public const int ModelError = 3;
}
