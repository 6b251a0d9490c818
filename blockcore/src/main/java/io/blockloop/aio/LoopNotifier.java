package io.blockloop.aio;

import io.blockloop.ffm.libc.EventFd;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * The doorbell of one {@link AioContext}: QEMU's {@code notify_me} / {@code notified} / {@code aio_notify}
 * protocol around an eventfd.
 *
 * <p>Any thread that makes work for the loop (schedules a BH, arms an earlier timer, changes an fd handler)
 * calls {@link #notifyLoop()}. The eventfd is written only when the loop may be blocked in its monitor, so
 * waking a busy loop costs no system call; a loop that is busy polling sees the {@code notified} flag through
 * the notifier's poll callback instead.
 *
 * <h2>Why no wakeup is lost</h2>
 * Two variables, two sides, Dekker style:
 * <pre>
 *   notifier (any thread)                       loop (home thread), before a blocking wait
 *   publish work (CAS/volatile/lock release)    notifyMe += 2            (volatile RMW)
 *   notified = true          (volatile store)   if (notified) timeout=0  (volatile load)
 *   if (notifyMe != 0) write eventfd            ... wait(timeout) ...
 *                            (volatile load)    notifyMe -= 2            (release store)
 * </pre>
 * Volatile accesses are totally ordered (sequential consistency for data-race-free programs), so either the
 * notifier's load of {@code notifyMe} comes after the loop's increment (and the eventfd is written, waking the
 * wait), or the loop's load of {@code notified} comes after the notifier's store (and the loop does not
 * block). Each volatile pair here is the Java form of QEMU's {@code smp_mb()} pair in {@code aio_notify} and
 * {@code aio_poll}. After the wait the loop clears {@code notified} with an atomic exchange
 * ({@link #acceptVolatile()}) <em>before</em> it looks at BHs and timers, so a notification racing with that look
 * is never cleared unseen: it either lands before the exchange, whose volatile read then synchronizes with the
 * notifier's store, so the work it published is visible to the look that follows; or after, and the flag stays
 * set for the next iteration. A plain volatile store of {@code false} would not do: two volatile writes order
 * nothing between their threads, and the Java memory model lets the later lock-free timer loads (acquire loads of
 * the earliest deadline) move before a volatile store. On x86 and AArch64 HotSpot never does that, which is why
 * no test can show it.
 *
 * <p>Threads: {@link #notifyLoop()} any thread, also during and after {@link #close()} (it then writes nothing);
 * everything else the home thread. The eventfd is drained only by the notifier's read handler on the home thread.
 */
final class LoopNotifier implements AutoCloseable {
    private static final VarHandle NOTIFY_ME;
    private static final VarHandle NOTIFIED;
    private static final VarHandle SIGNALLING;
    private static final VarHandle CLOSING;

    static {
        try {
            MethodHandles.Lookup lookup = MethodHandles.lookup();
            NOTIFY_ME = lookup.findVarHandle(LoopNotifier.class, "notifyMe", int.class);
            NOTIFIED = lookup.findVarHandle(LoopNotifier.class, "notified", boolean.class);
            SIGNALLING = lookup.findVarHandle(LoopNotifier.class, "signalling", int.class);
            CLOSING = lookup.findVarHandle(LoopNotifier.class, "closing", boolean.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final EventFd eventFd = EventFd.create();
    /** 2 per poll that may block; written by the home thread only, read by any thread. Through NOTIFY_ME. */
    @SuppressWarnings("unused")
    private int notifyMe;
    /** Set by any notifier, cleared by the home thread after each wait. Through NOTIFIED. */
    @SuppressWarnings("unused")
    private boolean notified;

    /** Notifiers between their look at {@code closing} and the end of their eventfd write. Through SIGNALLING. */
    @SuppressWarnings("unused")
    private int signalling;
    /** Set once by {@link #close()}. Through CLOSING. */
    @SuppressWarnings("unused")
    private boolean closing;

    EventFd eventFd() {
        return eventFd;
    }

    /** Any thread: makes the loop re-evaluate its work; writes the eventfd only if the loop may block. */
    void notifyLoop() {
        // Volatile store: the caller's earlier writes (a BH pushed by CAS, a timer armed under a lock) happen
        // before it. Pairs with the volatile load of `notified` in announceBlockingWaitVolatile().
        NOTIFIED.setVolatile(this, true);
        // Volatile load after a volatile store: the store-load order QEMU gets from smp_mb(). Pairs with the
        // volatile increment of notifyMe in announceBlockingWaitVolatile().
        if ((int) NOTIFY_ME.getVolatile(this) != 0) {
            signalUnlessClosing();
        }
    }

    /**
     * Writes the eventfd unless the context is closing. A notifier that had seen the loop about to block could
     * otherwise write after the loop had closed its eventfd (an IOThread's close() schedules the stop and then
     * notifies; the loop may run the stop, exit and close in between): EBADF, or 8 bytes into whatever file had
     * reused the number. Dekker with {@link #close()}: this side's volatile increment of {@code signalling} comes
     * before its volatile load of {@code closing}; close()'s volatile store of {@code closing} comes before its
     * volatile loads of {@code signalling}. Either the load here sees the close, or close waits for the decrement.
     * Two atomic operations, paid only on the path that makes a system call anyway.
     */
    private void signalUnlessClosing() {
        SIGNALLING.getAndAdd(this, 1);
        try {
            if (!(boolean) CLOSING.getVolatile(this)) {
                eventFd.signal();
            }
        } finally {
            SIGNALLING.getAndAdd(this, -1);
        }
    }

    /**
     * Home thread, before a wait that may block: announces it, and returns whether a notification is already
     * pending (then the wait must not block).
     */
    boolean announceBlockingWaitVolatile() {
        // Volatile RMW then volatile load; pairs with notifyLoop()'s volatile store then volatile load.
        NOTIFY_ME.getAndAdd(this, 2);
        return (boolean) NOTIFIED.getVolatile(this);
    }

    /** Home thread, after that wait. Release: nothing of the wait moves after it (QEMU's store-release). */
    void retireBlockingWaitRelease() {
        // Pairs with notifyLoop()'s volatile load of notifyMe: a notifier that reads 0 skips the eventfd write.
        // The opaque load reads this thread's own last store: only the home thread writes notifyMe.
        NOTIFY_ME.setRelease(this, (int) NOTIFY_ME.getOpaque(this) - 2);
    }

    /**
     * Home thread, after every wait and before BHs and timers are examined (QEMU's {@code aio_notify_accept}, whose
     * {@code smp_mb()} this is). A volatile exchange: its read synchronizes with every notifyLoop() store of
     * {@code true} before it, so what those notifiers published (a timer's earliest deadline, read by acquire loads
     * that a bare volatile store would let move ahead) is visible to the loads that follow; and its write cannot
     * clear a later notification unseen.
     */
    void acceptVolatile() {
        NOTIFIED.getAndSet(this, false); // pairs with notifyLoop()'s volatile store of true
    }

    /**
     * The poll callback of the notifier handler: a pending notification, seen without a system call. Acquire:
     * pairs with notifyLoop()'s volatile store of {@code true}.
     */
    boolean notifiedAcquire() {
        return (boolean) NOTIFIED.getAcquire(this);
    }

    /** The read callback of the notifier handler: resets the eventfd. Home thread. */
    void drain() {
        eventFd.drain();
    }

    /** Whether a poll that may block is in progress (volatile); for tests and diagnostics. Any thread. */
    boolean loopMayBlockVolatile() {
        return (int) NOTIFY_ME.getVolatile(this) != 0;
    }

    /** Home thread. Waits (briefly: one write) for notifiers inside their eventfd write, then closes it. */
    @Override
    public void close() {
        CLOSING.setVolatile(this, true); // pairs with the volatile load in signalUnlessClosing()
        while ((int) SIGNALLING.getVolatile(this) != 0) {
            Thread.onSpinWait();
        }
        eventFd.close();
    }
}
