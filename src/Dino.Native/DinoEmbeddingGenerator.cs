using Microsoft.Extensions.AI;

namespace Dino;

/// <summary>
/// Microsoft.Extensions.AI adapter: images (<see cref="DataContent"/> holding encoded JPEG, PNG, GIF, WebP
/// or BMP bytes) to CLS embeddings.
/// </summary>
public sealed class DinoEmbeddingGenerator : IEmbeddingGenerator<DataContent, Embedding<float>>
{
    private readonly DinoModel _model;
    private readonly bool _ownsModel;
    private readonly EmbedOptions? _options;
    private readonly EmbeddingGeneratorMetadata _metadata;

    /// <summary>Wraps a loaded model; it is disposed with the generator when <paramref name="ownsModel"/> is true.</summary>
    public DinoEmbeddingGenerator(DinoModel model, EmbedOptions? options = null, bool ownsModel = false)
    {
        _model = model ?? throw new ArgumentNullException(nameof(model));
        _options = options;
        _ownsModel = ownsModel;
        _metadata = new EmbeddingGeneratorMetadata("Dino.Native", null, model.Info.Name, model.Info.EmbeddingLength);
    }

    /// <inheritdoc />
    /// <remarks>The decoding and the computation run on a thread-pool thread (Task.Run).</remarks>
    public async Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(
        IEnumerable<DataContent> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(values);
        var inputs = values.ToList();
        var results = await Task.Run(() =>
        {
            var tensors = inputs.Select(v => _model.Preprocess(v.Data, _options?.Preprocess)).ToList();
            return _model.EmbedBatch(tensors, _options, cancellationToken);
        }, cancellationToken).ConfigureAwait(false);
        var list = new GeneratedEmbeddings<Embedding<float>>(results.Count);
        foreach (var r in results)
            list.Add(new Embedding<float>(r.Embedding) { ModelId = _model.Info.Name, CreatedAt = DateTimeOffset.UtcNow });
        return list;
    }

    /// <inheritdoc />
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey != null) return null;
        if (serviceType == typeof(EmbeddingGeneratorMetadata)) return _metadata;
        if (serviceType.IsInstanceOfType(_model)) return _model;
        return serviceType.IsInstanceOfType(this) ? this : null;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_ownsModel) _model.Dispose();
    }
}
