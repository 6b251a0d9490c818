package io.blockloop.engine;

import java.util.function.BooleanSupplier;
import java.util.function.IntSupplier;
import java.util.function.LongToIntFunction;

/**
 * The owner's spin in {@link IoEngine#awaitCompletions}: while exactly one request is in flight, the owner spins
 * for its completion before it sleeps in the kernel, for a window that adapts as QEMU's adaptive polling does
 * ({@link SpinWindow}: from 0, doubling while completions come within the maximum, halving when they take longer).
 *
 * <p>Why: on this project's test machine (a VM whose vCPUs halt when idle and are woken by an IPI through the
 * hypervisor), a sleeping waiter pays a halt and a wake-up per request, which at queue depth 1 on a fast device is
 * a large part of the request. A spinning waiter stays on its CPU and sees the completion as it lands. A device
 * slower than the maximum keeps the window at 0, so the owner then sleeps at once and burns no CPU. With more than
 * one request in flight the engines do not spin: other completions keep arriving anyway, and the spinning owner
 * would take a CPU from the threads that complete the requests (measured on the thread pool: QD 32 lost 10–25 %).
 * An event loop does not call {@code awaitCompletions}; it busy-polls {@link IoEngine#poll()} itself.
 *
 * <p>The spin yields ({@code sched_yield}) rather than pausing: the thread that completes the request (a pool
 * worker, the loop device's kworker, {@code ksoftirqd}) may have been woken onto this very CPU. Each yield is also a
 * kernel entry, on whose return io_uring runs the task work that posts a CQE.
 *
 * <p>Threads: the engine's owner thread only (the engine calls it from {@code awaitCompletions}); the counters are
 * read by tests on that thread.
 */
final class CompletionSpin {
    private final SpinWindow window;
    /** True when a completion waits to be reaped; must not block, allocate or have side effects. */
    private final BooleanSupplier completionReady;
    /** Completions found by spinning, and sleeps in the kernel after a spin (or with a window of 0). Statistics. */
    private long catches;
    private long sleeps;

    CompletionSpin(SpinWindow window, BooleanSupplier completionReady) {
        this.window = window;
        this.completionReady = completionReady;
    }

    /** Whether spinning can happen at all (a maximum of 0 turns it off). */
    boolean enabled() {
        return window.maxNanos() > 0;
    }

    /**
     * Spins until a completion is ready (true) or the window, cut to {@code timeoutNanos} when that is not negative,
     * has passed (false). A miss, also one with a window of 0, is remembered: the next {@link #reaped} measures how
     * long the completion really took and adapts the window.
     */
    boolean spin(long timeoutNanos) {
        long start = System.nanoTime();
        long length = timeoutNanos < 0 ? window.window() : Math.min(window.window(), timeoutNanos);
        if (length > 0) {
            long deadline = start + length;
            while (!completionReady.getAsBoolean()) {
                if (System.nanoTime() - deadline >= 0) {
                    window.missed(start);
                    return false;
                }
                Thread.yield();
            }
            catches++;
            return true;
        }
        window.missed(start);
        return false;
    }

    /**
     * The rest of an engine's {@code awaitCompletions}, after a reap that found nothing: spins if
     * {@code onlyRequestInFlight}, then waits in the kernel for what is left of {@code timeoutNanos} (negative: no
     * limit). {@code reap.applyAsInt(w)} reaps after waiting up to {@code w} ns for a completion ({@code w < 0}: no
     * limit; 0: no wait) and returns what it delivered, which this returns.
     */
    int await(long timeoutNanos, boolean onlyRequestInFlight, LongToIntFunction reap) {
        long left = timeoutNanos;
        if (onlyRequestInFlight && enabled()) {
            long start = System.nanoTime();
            if (spin(left)) {
                return reap.applyAsInt(0);
            }
            if (left >= 0 && (left -= System.nanoTime() - start) <= 0) {
                int delivered = reap.applyAsInt(0); // the spin used up the timeout
                reaped(delivered);
                return delivered;
            }
        }
        sleeps++;
        int delivered = reap.applyAsInt(left < 0 ? -1 : Math.max(1, left));
        reaped(delivered);
        return delivered;
    }

    /**
     * {@link #await} again until a wait delivers something, the kernel has nothing left, or {@code timeoutNanos}
     * (negative: no limit) has passed since the call: a wait can end with nothing delivered while requests are still
     * out (io_uring: a CQE that sent a short read back for its rest, or an {@code EAGAIN} retried; linux-aio: the
     * event of its readiness watch). Without it, {@code awaitCompletions} returned 0 early. {@code inKernel}: the
     * requests the kernel has; {@code onlyOne}: whether exactly one request is outstanding (the spin's condition).
     */
    int awaitDelivery(long timeoutNanos, IntSupplier inKernel, BooleanSupplier onlyOne, LongToIntFunction reap) {
        long start = System.nanoTime();
        for (;;) {
            long left = timeoutNanos < 0 ? -1 : Math.max(0, timeoutNanos - (System.nanoTime() - start));
            int delivered = await(left, onlyOne.getAsBoolean(), reap);
            if (delivered > 0 || inKernel.getAsInt() == 0
                    || (timeoutNanos >= 0 && System.nanoTime() - start - timeoutNanos >= 0)) {
                return delivered;
            }
        }
    }

    /** A reap in {@code awaitCompletions} delivered {@code delivered} completions: adapts the window to a miss. */
    void reaped(int delivered) {
        if (delivered > 0 && window.missPending()) {
            window.arrived(System.nanoTime());
        }
    }

    /** Completions found by spinning (for tests). */
    long catches() {
        return catches;
    }

    /** Sleeps in the kernel for a completion (for tests). */
    long sleeps() {
        return sleeps;
    }

    /** The current window in nanoseconds (for tests). */
    long window() {
        return window.window();
    }
}
