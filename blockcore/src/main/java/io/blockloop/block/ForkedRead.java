package io.blockloop.block;

import io.blockloop.coroutine.Coroutine;
import io.blockloop.ffm.errno.Errno;

/**
 * An aligned read of a node that runs in a coroutine of its own while the coroutine that started it goes on, then
 * is {@linkplain #join() joined} (the shape of QEMU's {@code aio_task_pool}, for one task). A padded write uses
 * it to read its partial head and tail blocks at the same time ({@link RequestPadding}).
 *
 * <p><b>Locks and counts are the caller's.</b> The read runs under the graph read lock and the in-flight count of
 * the request that started it, which holds both until it has joined. The forked coroutine must not take the read
 * lock itself: with a writer waiting, it would sleep until the writer is done, and the writer would wait for the
 * caller, which waits for it.
 *
 * <p><b>Use.</b> {@link #start} enters the new coroutine at once, nested in the caller, so the read is queued to
 * the engine before the caller queues its own, and the loop's next wait submits both. The caller must
 * {@link #join()} before it returns, also when it fails: the read fills memory the caller owns. After the join
 * the object belongs to nobody; {@link RequestPadding} keeps it for the next fork.
 *
 * <p><b>Threads.</b> The node's home thread, in coroutines: the caller's and the forked one. Plain fields: both
 * coroutines run on that thread, one at a time, and hand over only by yielding and entering.
 */
final class ForkedRead {
    private BlockNode node;
    private long offset;
    private long bytes;
    private IoVector into;

    private boolean done;
    private int result;
    private Throwable failure;
    /** The caller, while it waits in {@link #join()} for the read to end; else null. */
    private Coroutine joiner;

    /**
     * Starts reading {@code bytes} at {@code offset} of {@code node} into {@code into} (an aligned range: the
     * caller has padded it) in a new coroutine, entered now; returns when that coroutine first yields (its request
     * is queued) or has finished. A coroutine on the node's home thread holding the graph read lock.
     */
    void start(BlockNode node, long offset, long bytes, IoVector into) {
        this.node = node;
        this.offset = offset;
        this.bytes = bytes;
        this.into = into;
        done = false;
        result = 0;
        failure = null;
        joiner = null;
        Coroutine.create(ForkedRead::run, this).enter();
    }

    /**
     * Waits (yielding) until the read has ended and returns its result: 0 or a negative errno. A read that threw
     * rethrows here, in the caller, as it would have had the caller read itself. The coroutine that started it.
     */
    int join() {
        while (!done) {
            joiner = Coroutine.self();
            Coroutine.yield();
        }
        joiner = null;
        node = null;
        into = null;
        Throwable t = failure;
        if (t != null) {
            failure = null;
            if (t instanceof RuntimeException e) {
                throw e;
            }
            throw (Error) t; // run() catches only these two kinds
        }
        return result;
    }

    private static void run(ForkedRead read) {
        int ret;
        try {
            ret = read.node.alignedRead(read.offset, read.bytes, read.into, 0);
        } catch (RuntimeException | Error e) {
            read.failure = e;
            ret = -Errno.EIO;
        }
        read.result = ret;
        read.done = true;
        Coroutine waiting = read.joiner;
        if (waiting != null) {
            // From this coroutine, in the joiner's context: queued, entered right after this one terminates.
            waiting.wake();
        }
    }
}
