package io.blockloop.coroutine;

import io.blockloop.aio.AioContext;

import java.util.concurrent.locks.Lock;

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
 * from plain code on that context's home thread. A queue shared with plain code on other threads is guarded by a
 * thread {@link Lock} instead: {@link #await(Lock)} and {@link #restartAll(Lock, AioContext)}, every access under
 * that lock (whose release/acquire orders the fields).
 */
public final class CoQueue {
    private Coroutine head;
    private Coroutine tail;

    /** Waits until restarted (QEMU's {@code qemu_co_queue_wait} without a lock). Coroutine only. */
    public void await() {
        await((CoMutex) null);
    }

    /**
     * Joins the queue, releases {@code lock} (if not null), yields until restarted, then takes {@code lock}
     * again. Coroutine only; the caller holds {@code lock}.
     */
    public void await(CoMutex lock) {
        Coroutine self = Coroutine.requireSelf("CoQueue.await");
        // Before the caller joins the queue: a waiter left on it after the failed unlock was restarted later in
        // place of whatever coroutine reused it.
        if (lock != null && lock.holder() != self) {
            throw new IllegalStateException("CoQueue.await by " + self + " with a CoMutex it does not hold");
        }
        self.parkIn(this); // only this queue resumes it now: a stray enter or wake is refused
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

    /**
     * Joins the queue, releases the thread lock {@code lock}, yields until restarted, then takes {@code lock}
     * again (QEMU's {@code qemu_co_queue_wait} with a {@code QemuMutex}). The lock is released before the yield,
     * so it is never held across a suspension; a restart that comes between the release and the yield schedules
     * the coroutine in its context, which enters it only after it has yielded, and one that must enter it in another
     * context, its own closing ({@link #restartAll(Lock, AioContext)}), waits for the yield first. Coroutine only;
     * the calling thread holds {@code lock}.
     *
     * <p>Caveat: a lock that records its owner by {@link Thread#currentThread()} (a {@code ReentrantLock}) may
     * record a stale thread when the calling coroutine moved between threads earlier in the same compiled method:
     * C2 may reuse a {@code currentThread()} read before a yield after the resume (see
     * {@code io.blockloop.block.graph}'s package documentation).
     */
    public void await(Lock lock) {
        Coroutine self = Coroutine.requireSelf("CoQueue.await");
        self.parkIn(this); // only this queue resumes it now: a stray enter or wake is refused
        self.waitNext = null;
        if (tail == null) {
            head = self;
        } else {
            tail.waitNext = self;
        }
        tail = self;
        lock.unlock();
        Coroutine.yield();
        lock.lock();
    }

    /**
     * Restarts the first waiter; returns false if there was none (QEMU's {@code qemu_co_queue_next}). A waiter whose
     * context is closing cannot be woken there: it is reported as lost (logged at ERROR, as the locks do) and the
     * restart goes to the one behind it. Before, the restart was spent on it, the one behind it was never
     * restarted, and {@code next()} threw at its caller, typically while holding the queue's {@link CoMutex}.
     */
    public boolean next() {
        for (Coroutine co = head; co != null; co = head) {
            head = co.waitNext;
            if (head == null) {
                tail = null;
            }
            co.waitNext = null;
            try {
                co.unpark(); // the wake's hand-over publishes this to the thread that enters it
                co.wake();
                return true;
            } catch (IllegalStateException refused) {
                if (!inClosingContext(co)) {
                    throw refused;
                }
                LostWaiters.reportRestart(this, co, refused);
            }
        }
        return false;
    }

    /**
     * Restarts every waiter, in FIFO order (QEMU's {@code qemu_co_queue_restart_all}); one that cannot be woken
     * does not keep the others from it (see {@link #restartAll(Lock, AioContext)}).
     */
    public void restartAll() {
        // Detach first: from plain code a waiter runs at once and may wait here again; it must wait for the next
        // restart, not be restarted by this one.
        Coroutine co = head;
        head = null;
        tail = null;
        wakeEach(co, null);
    }

    /**
     * Restarts every waiter, in FIFO order, with the thread lock {@code lock} released while waking them
     * (QEMU's {@code qemu_co_enter_all}): a waiter of the caller's own context may run at once and take
     * {@code lock} itself. Waiters that join after the call began wait for the next restart. The calling thread
     * holds {@code lock}, and holds it again on return. Any thread.
     *
     * <p>A waiter whose own context is closing, so that nothing would ever enter it there, is entered in
     * {@code whenClosing} instead (if not null), where it can find that out and end: left waiting, it never
     * ended, and neither did whoever waited for it. Each waiter is restarted even when an earlier one could not
     * be; the first such failure is thrown afterwards.
     */
    public void restartAll(Lock lock, AioContext whenClosing) {
        Coroutine co = head;
        head = null;
        tail = null;
        if (co == null) {
            return;
        }
        lock.unlock();
        try {
            wakeEach(co, whenClosing);
        } finally {
            lock.lock();
        }
    }

    /**
     * Wakes each coroutine of the detached chain {@code co}, in order, even when an earlier one cannot be woken (its
     * context closed: the ones behind it were dropped and never ran); then throws the first such failure.
     */
    private static void wakeEach(Coroutine co, AioContext whenClosing) {
        RuntimeException failure = null;
        while (co != null) {
            Coroutine next = co.waitNext;
            co.waitNext = null;
            try {
                wake(co, whenClosing);
            } catch (RuntimeException e) {
                if (failure == null) {
                    failure = e;
                } else {
                    failure.addSuppressed(e);
                }
            }
            co = next;
        }
        if (failure != null) {
            throw failure;
        }
    }

    private static void wake(Coroutine co, AioContext whenClosing) {
        co.unpark(); // the wake's (or the enter's) hand-over publishes this to the thread that enters it
        try {
            co.wake();
        } catch (IllegalStateException refused) {
            if (whenClosing == null || !inClosingContext(co)) {
                throw refused;
            }
            // Its own thread may still run it between the release of the queue's lock and its yield: entered here
            // before it suspended, the enter failed and it was lost (session 28).
            co.awaitSuspended();
            co.enterIn(whenClosing);
        }
    }

    /**
     * Whether a wake of {@code co} was refused because its context is closing: the context refused it before marking
     * it scheduled ({@link Coroutine#scheduleBy}), so nothing will enter it there, and it is free to enter elsewhere.
     */
    private static boolean inClosingContext(Coroutine co) {
        AioContext home = co.context();
        return home != null && home.isClosing();
    }

    /** Whether nobody waits. */
    public boolean isEmpty() {
        return head == null;
    }
}
