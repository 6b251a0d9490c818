package io.blockloop.aio;

/**
 * When busy polling stops paying, stop doing it for a while: the contention rule {@link AdaptivePoller} adds to
 * QEMU's grow/shrink adaptation.
 *
 * <p>QEMU grows a handler's polling time whenever the work arrives after the spin gave up but within
 * {@code maxNs} of the poll's start, on the assumption that a longer spin would have caught it. That holds
 * when the spinning thread has a CPU to itself. When it shares its CPU with the thread that produces the work
 * (two IOThreads on one CPU because another process holds the other ones, more loop threads than CPUs, a
 * cgroup or {@code taskset} limit), the producer cannot run while the poller spins, so the work arrives only
 * <em>after</em> every spin, however long: each spin is pure loss, and QEMU's rule keeps growing it. Measured
 * on 2 vCPUs with both IOThreads on one of them: a cross-thread round trip cost 17-19 µs with busy polling
 * against 5.5-6.7 µs without (fdmon/README.md).
 *
 * <p>The signature is observable without a system call: a spin window that ran out without finding anything
 * (<em>unpaid</em>) and was followed, within {@code maxNs}, by a wait that ended with progress (so the loop
 * was not idle: the work came right after the spin stopped). After {@link #unpaidLimit} such windows in a row,
 * with no window in between that found work (<em>paid</em>), busy polling is <em>suspended</em>: the loop
 * blocks at once, like a loop without polling, for {@link #MIN_SUSPEND_NS} (1 ms). Then it spins again (a
 * probe). If the probe trips the rule again before {@code unpaidLimit} windows paid, the next suspension is
 * twice as long, up to {@link #MAX_SUSPEND_NS} (64 ms); once that many windows paid, it is back to 1 ms.
 *
 * <p>A window cut short by {@code needWait} because a monitor that sees readiness in memory (io_uring: a CQE in
 * the ring) has something is paid: that is the work it waited for, and for io_uring on the loop's own ring the
 * only way a window can find it. What does not count: a window cut short by the wait's own timeout (a timer was
 * due) or by {@code needWait} of a monitor that cannot see readiness without a system call is neutral; an unpaid
 * window followed by a long wait (longer than {@code maxNs}: the loop went idle, QEMU's shrink case) or by a wait
 * without progress leaves the count as it is. On free CPUs with a producer slower than the window, the windows
 * grow until one catches the work: at most one unpaid window per polling time on the way from
 * {@link AdaptivePoller#INITIAL_POLL_NS} to {@code maxNs} (5 for the IOThread default), which is why the limit is
 * that ladder plus 3.
 *
 * <p>The alternative of yielding the CPU inside the spin ({@code Thread.yield()}) was measured and rejected:
 * when the other runnable thread is an unrelated CPU-bound process, Linux's EEVDF scheduler hands it a full
 * time slice for every yield, and a round trip took milliseconds.
 *
 * <p>Pure bookkeeping, times passed in by the caller. Threads: the context's home thread only (no ordering).
 */
final class SpinBackoff {
    /** The first suspension after a streak of unpaid windows: 1 ms. */
    static final long MIN_SUSPEND_NS = 1_000_000;
    /** Suspensions double while probes keep failing, up to 64 ms. */
    static final long MAX_SUSPEND_NS = 64_000_000;
    /** Unpaid windows in a row beyond the growth ladder that trip the rule. */
    static final int SLACK = 3;

    private long maxNs;
    private int unpaidLimit = Integer.MAX_VALUE;
    private int unpaidStreak;
    private boolean suspended;
    private long suspendedUntilNs;
    private long nextSuspendNs = MIN_SUSPEND_NS;
    private int paidSinceResume;
    private long suspensions;
    /** Windows that found work, for tests. */
    private long paidWindows;

    /** Adopts new parameters: forgets the streak and any suspension. */
    void reset(PollParams params) {
        maxNs = params.maxNs();
        unpaidLimit = params.enabled() ? unpaidLimit(params) : Integer.MAX_VALUE;
        unpaidStreak = 0;
        suspended = false;
        nextSuspendNs = MIN_SUSPEND_NS;
        paidSinceResume = 0;
    }

    /**
     * How many unpaid windows in a row suspend busy polling under {@code params}: one per polling time a
     * handler passes through while growing from {@link AdaptivePoller#INITIAL_POLL_NS} to {@code maxNs}, plus
     * {@link #SLACK}. 8 for the IOThread default (4, 8, 16, 32, 32.768 µs).
     */
    static int unpaidLimit(PollParams params) {
        long grow = params.grow() == 0 ? 2 : params.grow();
        int steps = 1;
        long ns = AdaptivePoller.INITIAL_POLL_NS;
        while (ns < params.maxNs() && steps < 64) {
            ns = grow > 1 && ns <= Long.MAX_VALUE / grow ? ns * grow : Long.MAX_VALUE;
            steps++;
        }
        return steps + SLACK;
    }

    /** Whether a spin window may start at {@code nowNs}; ends a suspension that is over. */
    boolean mayStart(long nowNs) {
        if (suspended) {
            if (nowNs - suspendedUntilNs < 0) {
                return false;
            }
            suspended = false;
            paidSinceResume = 0;
        }
        return true;
    }

    /** A spin window found work. */
    void windowPaid() {
        paidWindows++;
        unpaidStreak = 0;
        // Saturates at the limit (a busy loop pays millions of windows a second; an int would wrap).
        if (paidSinceResume < unpaidLimit && ++paidSinceResume == unpaidLimit) {
            nextSuspendNs = MIN_SUSPEND_NS;
        }
    }

    /**
     * A spin window ran its full polling time without finding work and ended at {@code windowEndNs}; the wait
     * after it ended at {@code waitEndNs}, and the iteration made {@code progress} (ran a BH or a handler) or
     * not. Returns whether this suspended busy polling.
     */
    boolean windowUnpaid(long windowEndNs, long waitEndNs, boolean progress) {
        if (!progress || waitEndNs - windowEndNs >= maxNs) {
            return false; // idle, or only a timer: not a spin that delayed its own work
        }
        if (++unpaidStreak < unpaidLimit) {
            return false;
        }
        unpaidStreak = 0;
        suspended = true;
        suspendedUntilNs = waitEndNs + nextSuspendNs;
        suspensions++;
        if (paidSinceResume < unpaidLimit) {
            nextSuspendNs = Math.min(nextSuspendNs * 2, MAX_SUSPEND_NS);
        }
        paidSinceResume = 0;
        return true;
    }

    // ---- diagnostics (tests) ----

    boolean isSuspended() {
        return suspended;
    }

    long suspendedUntilNs() {
        return suspendedUntilNs;
    }

    /** Length of the next suspension. */
    long nextSuspendNs() {
        return nextSuspendNs;
    }

    int unpaidStreak() {
        return unpaidStreak;
    }

    int unpaidLimit() {
        return unpaidLimit;
    }

    long paidWindows() {
        return paidWindows;
    }

    long suspensions() {
        return suspensions;
    }
}
