package io.blockloop.aio;

import io.blockloop.coroutine.Coroutine;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;

/**
 * Waiting in the main loop for work done elsewhere (QEMU's {@code AIO_WAIT_WHILE}, {@code aio_wait_kick},
 * {@code aio_wait_bh_oneshot}).
 *
 * <p>{@link #waitWhile} runs the caller's own loop while a condition holds: the context's, if the caller is
 * its home thread; otherwise the main loop's (only the main thread may wait for another thread's context).
 * Whoever makes the condition false from another thread calls {@link #kick()} afterwards, which wakes the main
 * loop if anyone waits. Do not wait between two IOThreads (each would block the other's progress): go through
 * the main loop.
 *
 * <p>Threads: {@link #waitWhile} the home thread of {@code ctx} or the main thread, outside coroutines;
 * {@link #kick()} any thread.
 *
 * <p>Memory ordering: a waiter increments the waiter count (volatile RMW) before evaluating the condition; a
 * kicker writes its result, issues a full fence and then reads the count. Either the kicker sees a waiter and
 * notifies the main loop, or the waiter's condition check comes after the kicker's write in the total order
 * and sees it (QEMU's {@code smp_mb__after_rmw} / {@code smp_mb} pair). The notification itself is
 * {@link AioContext#notifyLoop()}, which ends a blocked main-loop poll; the wait loop then re-checks the
 * condition (QEMU schedules a dummy BH for the same effect).
 */
public final class AioWait {
    private static final VarHandle WAITERS;

    static {
        try {
            WAITERS = MethodHandles.lookup().findStaticVarHandle(AioWait.class, "waiters", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    @SuppressWarnings("unused") // through WAITERS
    private static int waiters;

    private AioWait() {
    }

    /**
     * Polls (blocking) the caller's loop while {@code condition} is true. Returns whether it polled at all.
     *
     * @param ctx the context whose work is awaited: the caller's own, or an IOThread's (then the caller must be
     *            the main thread and polls the main context)
     */
    public static boolean waitWhile(AioContext ctx, BooleanSupplier condition) {
        AioContext loop = loopFor(ctx, "AioWait.waitWhile");
        WAITERS.getAndAdd(1); // volatile RMW; pairs with the fence in kick()
        try {
            boolean waited = false;
            while (condition.getAsBoolean()) {
                loop.poll(true);
                waited = true;
            }
            return waited;
        } finally {
            // No pairing needed on the way out: a kicker that still sees this waiter only notifies once too often.
            WAITERS.getAndAdd(-1);
        }
    }

    /**
     * {@link #waitWhile} that gives up after {@code timeoutNs}: returns true when the condition became false,
     * false when time ran out with it still true. A timer on the polled loop bounds each blocking poll.
     */
    public static boolean waitWhile(AioContext ctx, BooleanSupplier condition, long timeoutNs) {
        AioContext loop = loopFor(ctx, "AioWait.waitWhile");
        // A negative timeout has run out at once (Long.MIN_VALUE overflowed the deadline into the far future).
        long deadline = loop.nowNs() + Math.max(0, timeoutNs);
        Timer alarm = loop.newTimer("aio-wait-deadline", () -> {
        });
        WAITERS.getAndAdd(1); // volatile RMW; pairs with the fence in kick()
        try {
            alarm.modNs(deadline);
            while (condition.getAsBoolean()) {
                if (loop.nowNs() - deadline >= 0) {
                    return false;
                }
                loop.poll(true);
            }
            return true;
        } finally {
            WAITERS.getAndAdd(-1); // as in the untimed waitWhile(): a stale count only costs a needless notify
            alarm.delete();
        }
    }

    /**
     * Runs {@code work} in {@code ctx}'s home thread through a one-shot BH and waits (as {@link #waitWhile})
     * until it has run ({@code aio_wait_bh_oneshot}). Main thread or {@code ctx}'s home thread.
     */
    public static void runInContext(AioContext ctx, Runnable work) {
        loopFor(ctx, "AioWait.runInContext"); // before the work is handed over: a refused call must not run it
        AtomicBoolean done = new AtomicBoolean();
        ctx.scheduleOneShot("aio-wait-oneshot", () -> {
            try {
                work.run();
            } finally {
                done.set(true); // volatile store, then kick()'s fence: the waiter sees it or is woken
                kick();
            }
        });
        waitWhile(ctx, () -> !done.get()); // volatile load: pairs with done.set(true) in the BH
    }

    /** Wakes the main loop if someone waits in {@link #waitWhile} (QEMU's {@code aio_wait_kick}). Any thread. */
    public static void kick() {
        // Full fence: the caller's writes (the awaited result) come before the read of the waiter count; pairs
        // with the volatile increment in waitWhile().
        VarHandle.fullFence();
        notifyMainIfWaiting((int) WAITERS.getVolatile());
    }

    /**
     * {@link #kick()} for a caller whose awaited result was a volatile write or read-modify-write (an in-flight
     * counter's atomic decrement), read by the waiter's condition with a volatile load: no fence needed. The
     * Java Memory Model orders all volatile accesses in one total order consistent with each thread's program
     * order, so either this volatile read of the waiter count comes after the waiter's volatile increment and sees
     * it, or the waiter's condition read comes after the caller's write and sees the result. Saves
     * {@link #kick()}'s fence (a second locked instruction on x86) on every request that empties a counter. Any
     * thread.
     */
    public static void kickAfterVolatileWrite() {
        notifyMainIfWaiting((int) WAITERS.getVolatile());
    }

    /**
     * {@link #kick()} without its fence, for a caller whose waiters issue a process-wide barrier
     * ({@code io.blockloop.ffm.libc.Membarrier}) after registering and before each check of their condition: that
     * barrier orders this caller's earlier store before its read of the waiter count, so either this read sees
     * the waiter or the waiter's check sees the store (the asymmetric form of the pairing in {@link #kick()}).
     * Any thread.
     */
    public static void kickWithoutFence() {
        // Opaque: a single read the compiler cannot drop or merge; the CPU ordering comes from the waiter's barrier.
        notifyMainIfWaiting((int) WAITERS.getOpaque());
    }

    /** The common end of the kicks: wakes the main loop if the waiter count they read is positive. */
    private static void notifyMainIfWaiting(int waiters) {
        if (waiters > 0) {
            AioContext main = AioContext.main();
            if (main != null) {
                main.notifyLoop();
            }
        }
    }

    /** How many threads are inside {@link #waitWhile} (volatile). Any thread. */
    public static int waiters() {
        return (int) WAITERS.getVolatile();
    }

    /**
     * The loop the calling thread polls while it waits for {@code ctx}; refuses a coroutine, and any thread but
     * {@code ctx}'s and the main one. A coroutine's nested poll cannot enter another coroutine of its context (it
     * is queued behind the waiting one), so a wait for a request, whose completion wakes a coroutine, hung for
     * good (QEMU asserts {@code !qemu_in_coroutine()} here).
     */
    private static AioContext loopFor(AioContext ctx, String what) {
        if (Coroutine.inCoroutine()) {
            throw new IllegalStateException(what + " in " + Coroutine.self() + ": a coroutine's nested poll cannot"
                    + " run the other coroutines it would wait for; yield until woken instead");
        }
        if (ctx.inHomeThread()) {
            return ctx;
        }
        AioContext main = AioContext.main();
        if (main == null || !main.inHomeThread()) {
            throw new IllegalStateException("AioWait: only the main thread may wait for another thread's context '"
                    + ctx.name() + "' (thread '" + Thread.currentThread().getName() + "')");
        }
        return main;
    }
}
