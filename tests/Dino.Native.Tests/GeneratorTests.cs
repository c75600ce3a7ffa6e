using Microsoft.Extensions.AI;

namespace Dino.Tests;

[Collection("models")]
public class GeneratorTests(ModelFixture models)
{
    [Fact]
    public async Task EmbeddingGeneratorEmbedsImages()
    {
        using IEmbeddingGenerator<DataContent, Embedding<float>> g = new DinoEmbeddingGenerator(models.Hf);
        var images = new[] { "rgb.png", "photo.jpg" }
            .Select(f => new DataContent(File.ReadAllBytes(TestData.Image(f)), f.EndsWith(".png") ? "image/png" : "image/jpeg")).ToList();
        var result = await g.GenerateAsync(images);
        Assert.Equal(2, result.Count);
        Assert.Equal(models.Hf.Embed(TestData.Image("photo.jpg")).Embedding, result[1].Vector.ToArray());
        var meta = g.GetService<EmbeddingGeneratorMetadata>();
        Assert.Equal(384, meta!.DefaultModelDimensions);
    }
}
