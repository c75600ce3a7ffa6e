using System.Collections.Concurrent;

namespace Dino.Interop;

/// <summary>
/// A model's native compute contexts: rented one per call (created on demand), and up to
/// <c>maxIdle</c> kept for reuse, the rest freed on return so their memory goes back at once.
/// Thread-safe; after <see cref="Dispose"/> rents throw and returns free.
/// </summary>
internal sealed class ContextPool : IDisposable
{
    private readonly ModelHandle _model;
    private readonly NativeContextParams _params;
    private readonly int _maxIdle;
    private readonly object _owner;  // named by ObjectDisposedException
    private readonly ConcurrentBag<ContextHandle> _idle = new();
    private int _idleCount;  // in _idle, or about to be
    private volatile bool _disposed;

    internal ContextPool(ModelHandle model, NativeContextParams parameters, int maxIdle, object owner)
    {
        _model = model;
        _params = parameters;
        _maxIdle = maxIdle;
        _owner = owner;
    }

    internal ContextHandle Rent()
    {
        ObjectDisposedException.ThrowIf(_disposed, _owner);
        if (_idle.TryTake(out var ctx))
        {
            Interlocked.Decrement(ref _idleCount);
            return ctx;
        }
        return ContextHandle.Create(_model, _params);
    }

    internal void Return(ContextHandle ctx)
    {
        ctx.ClearAbort();
        if (_disposed) { ctx.Dispose(); return; }
        if (Interlocked.Increment(ref _idleCount) > _maxIdle)
        {
            Interlocked.Decrement(ref _idleCount);
            ctx.Dispose();  // past the idle limit: give its memory back now
            return;
        }
        _idle.Add(ctx);
        if (_disposed) Drain();  // Dispose ran meanwhile
    }

    public void Dispose()
    {
        _disposed = true;
        Drain();
    }

    private void Drain()
    {
        while (_idle.TryTake(out var c))
        {
            Interlocked.Decrement(ref _idleCount);
            c.Dispose();
        }
    }
}
