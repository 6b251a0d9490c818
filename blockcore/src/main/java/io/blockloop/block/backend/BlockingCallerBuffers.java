package io.blockloop.block.backend;

import io.blockloop.aio.AioContext;
import io.blockloop.block.IoVector;

import java.lang.foreign.MemorySegment;

/**
 * The buffers of a blocking request, made usable by the backend's loop thread. A segment from an arena confined to
 * the calling thread cannot be accessed by the loop's thread: the bounce copy of a misaligned request failed with
 * {@link WrongThreadException}, while the same request, aligned, worked (the engine passes on only the address).
 * Yet such a buffer is safe for the loop to use: its arena can be closed only by the caller, which waits for the
 * request to end. So for the call it is handed over as a view of the same memory without confinement (read-only
 * if it was). Buffers the loop's thread may access already, or whose arena is closed (refused later, with a
 * message), are handed over as they are.
 *
 * <p>Threads: the blocking caller, before it submits; the views live no longer than its call.
 */
final class BlockingCallerBuffers {
    private BlockingCallerBuffers() {
    }

    /** {@code buffer}, or a view of it that {@code ctx}'s thread may access. */
    @SuppressWarnings("restricted")
    static MemorySegment lend(MemorySegment buffer, AioContext ctx) {
        if (!needsView(buffer, ctx)) {
            return buffer;
        }
        MemorySegment view = MemorySegment.ofAddress(buffer.address()).reinterpret(buffer.byteSize());
        return buffer.isReadOnly() ? view.asReadOnly() : view;
    }

    /** {@code qiov}, or a vector of views when one of its segments needs one. */
    static IoVector lend(IoVector qiov, AioContext ctx) {
        boolean any = false;
        for (int i = 0; i < qiov.count() && !any; i++) {
            any = needsView(qiov.segment(i), ctx);
        }
        if (!any) {
            return qiov;
        }
        IoVector lent = new IoVector(qiov.count());
        for (int i = 0; i < qiov.count(); i++) {
            lent.add(lend(qiov.segment(i), ctx));
        }
        return lent;
    }

    /** Confined to the calling thread (alive, ours), and the loop runs on another thread. */
    private static boolean needsView(MemorySegment buffer, AioContext ctx) {
        Thread loop = ctx.homeThread();
        return loop != Thread.currentThread() && buffer.scope().isAlive()
                && buffer.isAccessibleBy(Thread.currentThread()) && !buffer.isAccessibleBy(loop);
    }
}
