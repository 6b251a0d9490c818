package io.blockloop.block.graph;

import io.blockloop.aio.AioContext;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * The graph-lock reader count of one {@code AioContext} (QEMU's {@code BdrvGraphRWlock}), alone on its cache
 * lines so that readers in different contexts never write a shared line on the fast path. The count may go
 * negative: a reader coroutine that moves to another context releases the lock there; only the sum over all
 * contexts means anything.
 *
 * <p>Threads: written only by the context's home thread (coroutines run in their context's home thread), so an
 * update is a plain read and an ordered store, not a read-modify-write; read by the graph writer on the main
 * loop's thread and by the thread that closes the context. Memory ordering: see each method.
 *
 * <p>Public only as the token {@link GraphLock#readLock(io.blockloop.coroutine.Coroutine, AioContext)} returns for
 * {@link GraphLock#readUnlock(io.blockloop.coroutine.Coroutine, ReaderCount)}; it offers nothing else.
 */
public final class ReaderCount extends ReaderCountValue {
    private static final VarHandle COUNT;

    static {
        try {
            COUNT = MethodHandles.lookup().findVarHandle(ReaderCountValue.class, "count", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    // Padding after the count: 128 bytes, so the adjacent-line prefetcher does not pair it with a neighbour.
    long p16, p17, p18, p19, p20, p21, p22, p23, p24, p25, p26, p27, p28, p29, p30, p31;

    ReaderCount(AioContext context) {
        super(context);
    }

    /**
     * One more reader (read lock). Home thread. Opaque store: the caller's full fence that follows orders it
     * before its read of {@code hasWriter} (QEMU's {@code qatomic_set} + {@code smp_mb}); with asymmetric readers
     * ({@link GraphLock#asymmetric()}) the writer's {@code Membarrier.barrierAllThreads()} does so instead.
     */
    void incrementOpaque() {
        COUNT.setOpaque(this, (long) COUNT.get(this) + 1);
    }

    /**
     * One reader less (read unlock, or a reader backing off for a writer). Home thread. Release store: everything
     * the reader read of the graph comes before it; pairs with the writer's {@link #getAcquire()}.
     */
    void decrementRelease() {
        COUNT.setRelease(this, (long) COUNT.get(this) - 1);
    }

    /** The count. Any thread; acquire load, pairs with {@link #decrementRelease()}. */
    long getAcquire() {
        return (long) COUNT.getAcquire(this);
    }

    @Override
    public String toString() {
        return "ReaderCount[" + context.name() + ": " + getAcquire() + "]";
    }
}

/** The fields that never change, before the padding. Final fields: any thread. */
abstract class ReaderCountHeader {
    /** The context whose readers this counts. */
    final AioContext context;

    ReaderCountHeader(AioContext context) {
        this.context = context;
    }
}

/** Padding before the count: 128 bytes (superclass fields are laid out first). Never read or written. */
abstract class ReaderCountPadBefore extends ReaderCountHeader {
    long p00, p01, p02, p03, p04, p05, p06, p07, p08, p09, p10, p11, p12, p13, p14, p15;

    ReaderCountPadBefore(AioContext context) {
        super(context);
    }
}

/** The count itself, accessed through {@code ReaderCount.COUNT}; threads and ordering: see {@link ReaderCount}. */
abstract class ReaderCountValue extends ReaderCountPadBefore {
    @SuppressWarnings("unused") // through ReaderCount.COUNT
    long count;

    ReaderCountValue(AioContext context) {
        super(context);
    }
}
