using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace Dino.Cli;

/// <summary>
/// Short captions ("INPUT", "HEAD 3", "MASK 3", "MEAN") drawn on picture panels in a 5x7 pixel font of our own,
/// so that labelling needs no font files or text-rendering package.
/// </summary>
internal static class PanelLabel
{
    // Each glyph: 7 rows of 5 bits, the leftmost pixel in the highest bit.
    private static readonly Dictionary<char, byte[]> Glyphs = new()
    {
        ['A'] = new byte[] { 0b01110, 0b10001, 0b10001, 0b11111, 0b10001, 0b10001, 0b10001 },
        ['D'] = new byte[] { 0b11110, 0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b11110 },
        ['E'] = new byte[] { 0b11111, 0b10000, 0b10000, 0b11110, 0b10000, 0b10000, 0b11111 },
        ['H'] = new byte[] { 0b10001, 0b10001, 0b10001, 0b11111, 0b10001, 0b10001, 0b10001 },
        ['I'] = new byte[] { 0b01110, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110 },
        ['K'] = new byte[] { 0b10001, 0b10010, 0b10100, 0b11000, 0b10100, 0b10010, 0b10001 },
        ['M'] = new byte[] { 0b10001, 0b11011, 0b10101, 0b10101, 0b10001, 0b10001, 0b10001 },
        ['N'] = new byte[] { 0b10001, 0b11001, 0b10101, 0b10011, 0b10001, 0b10001, 0b10001 },
        ['P'] = new byte[] { 0b11110, 0b10001, 0b10001, 0b11110, 0b10000, 0b10000, 0b10000 },
        ['S'] = new byte[] { 0b01111, 0b10000, 0b10000, 0b01110, 0b00001, 0b00001, 0b11110 },
        ['T'] = new byte[] { 0b11111, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100 },
        ['U'] = new byte[] { 0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01110 },
        ['0'] = new byte[] { 0b01110, 0b10001, 0b10011, 0b10101, 0b11001, 0b10001, 0b01110 },
        ['1'] = new byte[] { 0b00100, 0b01100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110 },
        ['2'] = new byte[] { 0b01110, 0b10001, 0b00001, 0b00010, 0b00100, 0b01000, 0b11111 },
        ['3'] = new byte[] { 0b11111, 0b00010, 0b00100, 0b00010, 0b00001, 0b10001, 0b01110 },
        ['4'] = new byte[] { 0b00010, 0b00110, 0b01010, 0b10010, 0b11111, 0b00010, 0b00010 },
        ['5'] = new byte[] { 0b11111, 0b10000, 0b11110, 0b00001, 0b00001, 0b10001, 0b01110 },
        ['6'] = new byte[] { 0b00110, 0b01000, 0b10000, 0b11110, 0b10001, 0b10001, 0b01110 },
        ['7'] = new byte[] { 0b11111, 0b00001, 0b00010, 0b00100, 0b01000, 0b01000, 0b01000 },
        ['8'] = new byte[] { 0b01110, 0b10001, 0b10001, 0b01110, 0b10001, 0b10001, 0b01110 },
        ['9'] = new byte[] { 0b01110, 0b10001, 0b10001, 0b01111, 0b00001, 0b00010, 0b01100 },
        [' '] = new byte[7],
    };

    /// <summary>Draws text (the letters above, digits, spaces) in white on a black box at (x, y), each font pixel scale x scale.</summary>
    public static void Draw(Image<Rgb24> canvas, int x, int y, string text, int scale)
    {
        int w = (text.Length * 6 + 1) * scale, h = 9 * scale;
        for (int py = 0; py < h && y + py < canvas.Height; py++)
            for (int px = 0; px < w && x + px < canvas.Width; px++)
                canvas[x + px, y + py] = new Rgb24(0, 0, 0);
        for (int i = 0; i < text.Length; i++)
        {
            byte[] rows = Glyphs.TryGetValue(char.ToUpperInvariant(text[i]), out var g) ? g : throw new ArgumentException($"no glyph for '{text[i]}'");
            for (int r = 0; r < 7; r++)
                for (int c = 0; c < 5; c++)
                {
                    if ((rows[r] & (1 << (4 - c))) == 0) continue;
                    for (int sy = 0; sy < scale; sy++)
                        for (int sx = 0; sx < scale; sx++)
                        {
                            int X = x + ((1 + i * 6 + c) * scale) + sx, Y = y + ((1 + r) * scale) + sy;
                            if (X < canvas.Width && Y < canvas.Height) canvas[X, Y] = new Rgb24(255, 255, 255);
                        }
                }
        }
    }
}
