using System.CommandLine;

namespace Dino.Cli;

internal static class PreprocessCommand
{
    public static Command Create()
    {
        var model = Shared.Model();
        var size = Shared.Size();
        var output = new Option<string>("--output", "-o") { Description = "The .npy file to write", Required = true };
        var image = new Argument<string>("IMAGE") { Description = "The image to preprocess" };
        var cmd = new Command("preprocess", "Write the normalized float32 [3, H, W] tensor the model would see, to check preprocessing against other tools.")
        { model, size, output, image };
        CliHelp.AddDetails(cmd, """
            ('dino embed' accepts such .npy files, to check the engine independently of image decoding.)

            Examples:
              dino preprocess -m model.gguf photo.jpg -o photo.npy
              python3 -c "import numpy; print(numpy.load('photo.npy').shape)"
            """);
        cmd.SetAction(r =>
        {
            string path = r.GetValue(output)!;
            bool regular = AtomicFile.StandardStream(path) == 0 && Dino.IO.RegularFile.NonRegularKind(Path.GetFullPath(path)) == null;
            if (regular && !path.EndsWith(".npy", StringComparison.OrdinalIgnoreCase))
                throw new UsageException($"{path}: preprocess writes a .npy tensor; give -o a name that ends in .npy");
            Shared.RefuseOutputOverInput(path, new[] { r.GetValue(image)!, r.GetValue(model)! });
            using var dino = Shared.Open(r.GetValue(model)!, 1);
            var t = dino.Preprocess(r.GetValue(image)!, Shared.Recipe(dino, r.GetValue(size)));
            using var f = new AtomicFile(path);
            Dino.IO.Npy.Write(f.Stream, new long[] { 3, t.Height, t.Width }, t.Data);
            f.Commit();
            Console.Error.WriteLine($"dino: wrote [3, {t.Height}, {t.Width}] to {r.GetValue(output)}");
            return ExitCode.Ok;
        });
        return cmd;
    }
}
