package io.blockloop.engine;

import io.blockloop.ffm.libc.ThreadId;

/**
 * Remembers the engine's owner thread — the first thread that uses it — so that assertions can check that no
 * other thread touches owner state. Meant for {@code assert owner.isCurrent()}: without {@code -ea} it costs
 * nothing and binds nothing.
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
    boolean isCurrent() {
        Thread current = Thread.currentThread();
        if (owner == null) {
            owner = current;
            ownerTid = ThreadId.current();
            return true;
        }
        return ThreadId.isCurrent(owner, ownerTid);
    }

    String describe() {
        return "engine owned by " + owner + " (tid " + ownerTid + "), called from " + Thread.currentThread()
                + " (tid " + ThreadId.current() + ")";
    }
}
