using System.Runtime.InteropServices;

namespace Dino.Interop;

/// <summary>Owns a native dino_model.</summary>
internal sealed class ModelHandle : SafeHandle
{
    public ModelHandle() : base(IntPtr.Zero, ownsHandle: true) { }

    public override bool IsInvalid => handle == IntPtr.Zero;

    protected override bool ReleaseHandle()
    {
        NativeMethods.dino_model_free(handle);
        return true;
    }

    internal static ModelHandle Load(string path, bool checkValues, Int8Weights int8Weights)
    {
        NativeLibraryLoader.EnsureLoaded();
        var p = new NativeModelParams { CheckValues = checkValues ? (byte)1 : (byte)0, Int8Weights = (int)int8Weights };
        DinoStatus status;
        IntPtr raw;
        unsafe { status = NativeMethods.dino_model_load(path, &p, out raw); }
        var h = new ModelHandle();
        h.SetHandle(raw);
        if (status != DinoStatus.Ok)
        {
            h.Dispose();
            throw Errors.FromStatus(status, NativeMethods.LastError(), ErrorSource.Model);
        }
        return h;
    }
}

/// <summary>
/// Owns a native dino_context (its graph, buffers and threads) and the flag its
/// abort callback reads. Keeps the model alive while it lives.
/// </summary>
internal sealed unsafe class ContextHandle : SafeHandle
{
    private ModelHandle? _model;
    private int* _abortFlag;

    public ContextHandle() : base(IntPtr.Zero, ownsHandle: true) { }

    public override bool IsInvalid => handle == IntPtr.Zero;

    internal static ContextHandle Create(ModelHandle model, NativeContextParams p)
    {
        var h = new ContextHandle();
        bool added = false;
        model.DangerousAddRef(ref added);  // the model outlives its contexts
        h._model = model;
        h._abortFlag = (int*)NativeMemory.AllocZeroed(sizeof(int));
        var status = NativeMethods.dino_context_new(model, &p, out IntPtr raw);
        if (status != DinoStatus.Ok)
        {
            string message = NativeMethods.LastError();
            h.ReleaseHandle();  // nothing native to free but the flag and the model reference
            h.SetHandleAsInvalid();
            throw Errors.FromStatus(status, message, ErrorSource.Native);
        }
        h.SetHandle(raw);
        NativeMethods.dino_context_set_abort_callback(h, &NativeMethods.AbortWhenFlagged, h._abortFlag);
        return h;
    }

    /// <summary>The threads this context computes with (0 resolved to what the process may use).</summary>
    internal int Threads => NativeMethods.dino_context_get_threads(this);

    /// <summary>
    /// Runs n images of height x width (pixels: n x 3 x height x width) and fills the buffers' outputs;
    /// cancellation stops the computation (OperationCanceledException). A failure throws as <see cref="Errors"/> maps it.
    /// </summary>
    internal void Compute(float[] pixels, int n, int height, int width, ComputeBuffers b, CancellationToken ct)
    {
        using var reg = ct.CanBeCanceled ? ct.Register(RequestAbort) : default;
        DinoStatus status;
        fixed (float* px = pixels, c = b.Cls, tk = b.Tokens, at = b.Attention, im = b.Intermediate, rg = b.Registers)
        {
            var outputs = NativeMethods.dino_outputs_default();
            outputs.Cls = c;
            outputs.ClsCapacity = (nuint)b.Cls.Length;
            outputs.Tokens = tk;
            outputs.TokensCapacity = (nuint)(b.Tokens?.Length ?? 0);
            outputs.Attention = at;
            outputs.AttentionCapacity = (nuint)(b.Attention?.Length ?? 0);
            outputs.AttentionFull = b.AttentionFull ? (byte)1 : (byte)0;
            outputs.Intermediate = im;
            outputs.IntermediateCapacity = (nuint)(b.Intermediate?.Length ?? 0);
            outputs.NIntermediate = b.IntermediateLayers;
            outputs.Registers = rg;
            outputs.RegistersCapacity = (nuint)(b.Registers?.Length ?? 0);
            status = NativeMethods.dino_compute(this, px, n, height, width, &outputs);
        }
        if (status == DinoStatus.Aborted) ct.ThrowIfCancellationRequested();
        Errors.ThrowIfFailed(status, ErrorSource.Native, ct);
    }

    /// <summary>Asks a running dino_compute to stop (any thread).</summary>
    internal void RequestAbort() => Volatile.Write(ref *_abortFlag, 1);

    internal void ClearAbort() => Volatile.Write(ref *_abortFlag, 0);

    protected override bool ReleaseHandle()
    {
        if (handle != IntPtr.Zero) NativeMethods.dino_context_free(handle);
        NativeMemory.Free(_abortFlag);
        _abortFlag = null;
        _model?.DangerousRelease();
        _model = null;
        return true;
    }
}
