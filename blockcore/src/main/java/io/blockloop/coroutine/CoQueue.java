package io.blockloop.coroutine;

/**
 * A FIFO of coroutines waiting for a condition (QEMU's {@code CoQueue}). A coroutine {@linkplain #await(CoMutex)
 * waits} (optionally releasing a {@link CoMutex} while it waits and taking it back afterwards); another one
 * restarts the first waiter with {@link #next()} or all of them with {@link #restartAll()}. Restarting goes
 * through {@link Coroutine#wake()}: a waiter of the caller's own context is queued to run when the caller
 * yields, never entered from inside it; a waiter of another context is scheduled there.
 *
 * <p>The queue is intrusive ({@link Coroutine#waitNext}), so waiting allocates nothing.
 *
 * <p>Threads and memory ordering: the queue itself is not thread-safe. Use it either from one context only, or
 * with every {@code await}, {@code next}, {@code restartAll} and {@code isEmpty} under the same {@link CoMutex}
 * (whose hand-over orders the plain fields here). {@link #next()} and {@link #restartAll()} may also be called
 * from plain code on that context's home thread.
 */
public final class CoQueue {
    private Coroutine head;
    private Coroutine tail;

    /** Waits until restarted (QEMU's {@code qemu_co_queue_wait} without a lock). Coroutine only. */
    public void await() {
        await(null);
    }

    /**
     * Joins the queue, releases {@code lock} (if not null), yields until restarted, then takes {@code lock}
     * again. Coroutine only; the caller holds {@code lock}.
     */
    public void await(CoMutex lock) {
        Coroutine self = Coroutine.requireSelf("CoQueue.await");
        self.waitNext = null;
        if (tail == null) {
            head = self;
        } else {
            tail.waitNext = self;
        }
        tail = self;
        if (lock != null) {
            lock.unlock();
        }
        Coroutine.yield();
        if (lock != null) {
            lock.lock();
        }
    }

    /** Restarts the first waiter; returns false if there was none (QEMU's {@code qemu_co_queue_next}). */
    public boolean next() {
        Coroutine co = head;
        if (co == null) {
            return false;
        }
        head = co.waitNext;
        if (head == null) {
            tail = null;
        }
        co.waitNext = null;
        co.wake();
        return true;
    }

    /** Restarts every waiter, in FIFO order (QEMU's {@code qemu_co_queue_restart_all}). */
    public void restartAll() {
        // Detach first: from plain code a waiter runs at once and may wait here again; it must wait for the next
        // restart, not be restarted by this one.
        Coroutine co = head;
        head = null;
        tail = null;
        while (co != null) {
            Coroutine next = co.waitNext;
            co.waitNext = null;
            co.wake();
            co = next;
        }
    }

    /** Whether nobody waits. */
    public boolean isEmpty() {
        return head == null;
    }
}
