package io.blockloop.engine;

import io.blockloop.ffm.libc.ThreadId;

/**
 * Remembers the engine's owner thread — the first thread that uses it — and refuses every other thread: each
 * owner-only entry point of an engine starts with {@link #check()}, with or without {@code -ea}. Without it, a
 * submission from a second thread went on unchecked and corrupted the engine's queues (a request delivered twice,
 * {@code outstanding()} at -1). The check is one {@link Thread} comparison on the owner's path.
 *
 * <p>The owner is recorded twice: as a {@link Thread} (the cheap comparison) and as the kernel's thread id
 * ({@link ThreadId}). Engines are called from coroutines, and compiled code may keep a
 * {@link Thread#currentThread()} read before its coroutine moved to another thread; so a mismatch of the
 * {@code Thread}s is confirmed with the kernel's id of the thread really running before the assertion fails.
 *
 * <p>Threads: the binding is a plain field; two threads racing for it is already the bug being detected, and the
 * assertion of one of them fails.
 */
final class OwnerThread {
    private Thread owner;
    private int ownerTid;

    /** True when the calling thread is the owner, binding it if there is none yet. */
    private boolean isCurrent() {
        Thread current = Thread.currentThread();
        if (owner == null) {
            if (current.isVirtual()) {
                // The kernel's id is the carrier's: two virtual threads on one carrier passed the check, and an
                // io_uring engine whose owner moved to another carrier failed its first submit (EINVAL: its
                // registered ring fd belongs to the first carrier's table).
                throw new IllegalStateException("an engine's owner must be a platform thread, not " + current
                        + ": the owner is known by its kernel thread id, which a virtual thread changes with its"
                        + " carrier; use an IOThread, or the block layer's API from virtual threads");
            }
            owner = current;
            ownerTid = ThreadId.current();
            return true;
        }
        return ThreadId.isCurrent(owner, ownerTid);
    }

    /**
     * Binds the calling thread if there is no owner yet; throws {@link IllegalStateException} when the caller is
     * another thread.
     */
    void check() {
        if (!isCurrent()) {
            throw new IllegalStateException(describe() + ": an engine is used by its owner thread only");
        }
    }

    /** True when the owner is bound and is not the calling thread. */
    boolean isAnotherThread() {
        return owner != null && !ThreadId.isCurrent(owner, ownerTid);
    }

    /** True when the owner is bound, alive, and not the calling thread. */
    boolean isAnotherLiveThread() {
        return isAnotherThread() && owner.isAlive();
    }

    String describe() {
        return "engine owned by " + owner + " (tid " + ownerTid + "), called from " + Thread.currentThread()
                + " (tid " + ThreadId.current() + ")";
    }
}
