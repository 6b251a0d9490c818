package io.blockloop.engine;

/**
 * Remembers the engine's owner thread — the first thread that uses it — so that assertions can check that no
 * other thread touches owner state. Meant for {@code assert owner.isCurrent()}: without {@code -ea} it costs
 * nothing and binds nothing.
 *
 * <p>Threads: the binding is a plain field; two threads racing for it is already the bug being detected, and the
 * assertion of one of them fails.
 */
final class OwnerThread {
    private Thread owner;

    /** True when the calling thread is the owner, binding it if there is none yet. */
    boolean isCurrent() {
        Thread current = Thread.currentThread();
        if (owner == null) {
            owner = current;
        }
        return owner == current;
    }

    String describe() {
        return "engine owned by " + owner + ", called from " + Thread.currentThread();
    }
}
