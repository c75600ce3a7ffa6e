namespace Dino;

/// <summary>What one embedding call returns besides the CLS embedding.</summary>
public sealed record EmbedOptions
{
    /// <summary>Preprocessing; null = the model's default (<see cref="DinoModel.DefaultPreprocessing"/>).</summary>
    public PreprocessOptions? Preprocess { get; init; }

    /// <summary>Return every token after the final LayerNorm (dense features), not only the CLS row.</summary>
    public bool Tokens { get; init; }

    /// <summary>Return the last block's attention probabilities.</summary>
    public AttentionOutput Attention { get; init; }

    /// <summary>Return the outputs of the last n blocks, each after the final norm (DINO's get_intermediate_layers; linear evaluation uses 4).</summary>
    public int IntermediateLayers { get; init; }

    /// <summary>Return the register tokens after the final LayerNorm (DINOv2 with registers; the model must have some:
    /// <see cref="DinoModelInfo.RegisterCount"/>).</summary>
    public bool Registers { get; init; }

    // Checked where a call begins, before any input is read: a bad option fails the call once, never as
    // each input's failure in EmbedEach.
    internal void Validate(int blockCount, int registerCount)
    {
        if (Registers && registerCount == 0)
            throw new ArgumentException("EmbedOptions.Registers: this model has no register tokens", nameof(Registers));
        if (IntermediateLayers < 0 || IntermediateLayers > blockCount)
            throw new ArgumentOutOfRangeException(nameof(IntermediateLayers), IntermediateLayers, $"IntermediateLayers must be 0 to {blockCount}");
        if (!Enum.IsDefined(Attention)) throw new ArgumentOutOfRangeException(nameof(Attention), Attention, "not an AttentionOutput value");
        Preprocess?.Validate();
    }
}
