package io.blockloop.block.backend;

import io.blockloop.block.IoVector;

import java.lang.foreign.MemorySegment;

/**
 * The buffers of a request whose caller waits for it, made usable by the thread that does the request: the loop
 * thread of the backend's context. Two kinds of caller wait: a blocking call from plain code, and a coroutine of
 * another context, which moves to the backend's context for the request and back.
 *
 * <p>A segment from an arena confined to the caller's thread cannot be accessed by the loop's thread: the bounce
 * copy of a misaligned request failed with {@link WrongThreadException}, while the same request, aligned, worked
 * (the engine passes on only the address). Yet the loop may use such a buffer: only the caller's thread can close
 * its arena, and the caller waits for the request. So for the request it is handed over as a view of the same
 * memory without confinement (read-only if it was).
 *
 * <p>A buffer confined to a third thread is refused, as the asynchronous API refuses it: that thread may close its
 * arena while the kernel still writes into the memory (the blocking API passed such buffers on, and the JVM
 * crashed; a coroutine of the backend's own context did until session 28). Buffers the loop's thread may access
 * already, and those whose arena is closed (refused later, with a message), are handed over as they are.
 *
 * <p>Threads: the caller, before its request starts; the views live no longer than the request.
 */
final class CallerBuffers {
    private CallerBuffers() {
    }

    /**
     * {@code buffer}, or a view of it that {@code loop} may access.
     *
     * @throws IllegalArgumentException when neither {@code caller} nor {@code loop} may access it
     */
    static MemorySegment lend(MemorySegment buffer, Thread caller, Thread loop) {
        return lend(buffer, 0, 1, caller, loop);
    }

    /**
     * {@code qiov}, or a vector of views when one of its segments needs one.
     *
     * @throws IllegalArgumentException when neither {@code caller} nor {@code loop} may access one of the segments
     */
    static IoVector lend(IoVector qiov, Thread caller, Thread loop) {
        IoVector lent = null;
        for (int i = 0; i < qiov.count(); i++) {
            MemorySegment segment = qiov.segment(i);
            MemorySegment usable = lend(segment, i, qiov.count(), caller, loop);
            if (usable != segment && lent == null) {
                lent = new IoVector(qiov.count());
                for (int j = 0; j < i; j++) {
                    lent.add(qiov.segment(j));
                }
            }
            if (lent != null) {
                lent.add(usable);
            }
        }
        return lent != null ? lent : qiov;
    }

    /**
     * Throws {@link IllegalArgumentException} when neither {@code caller} nor {@code loop} may access one of the
     * segments (after the backend moved, a buffer of the loop the request was lent to first).
     */
    static void requireReachable(IoVector qiov, Thread caller, Thread loop) {
        for (int i = 0; i < qiov.count(); i++) {
            MemorySegment segment = qiov.segment(i);
            if (segment.scope().isAlive() && !segment.isAccessibleBy(loop)) {
                requireCallers(segment, i, qiov.count(), caller, loop);
            }
        }
    }

    @SuppressWarnings("restricted")
    private static MemorySegment lend(MemorySegment buffer, int index, int count, Thread caller, Thread loop) {
        if (!buffer.scope().isAlive() || buffer.isAccessibleBy(loop)) {
            return buffer;
        }
        requireCallers(buffer, index, count, caller, loop);
        MemorySegment view = MemorySegment.ofAddress(buffer.address()).reinterpret(buffer.byteSize());
        return buffer.isReadOnly() ? view.asReadOnly() : view;
    }

    /**
     * Throws unless {@code caller} may access {@code buffer}, which {@code loop} may not; when the two are one thread,
     * the buffer is a third thread's.
     */
    private static void requireCallers(MemorySegment buffer, int index, int count, Thread caller, Thread loop) {
        if (caller == loop) { // a coroutine of the backend's own context, with a third thread's buffer
            throw new IllegalArgumentException("I/O buffer " + index + " of " + count + " is confined to a thread"
                    + " other than '" + loop.getName() + "', where the request runs: that thread could free it while"
                    + " the kernel uses it; allocate it from a shared arena, or from one of the calling thread");
        }
        if (!buffer.isAccessibleBy(caller)) {
            throw new IllegalArgumentException("I/O buffer " + index + " of " + count + " is confined to a thread"
                    + " other than the caller '" + caller.getName() + "' and '" + loop.getName() + "', where the"
                    + " request runs: that thread could free it while the kernel uses it; allocate it from a shared"
                    + " arena, or from one of the calling thread");
        }
    }
}
