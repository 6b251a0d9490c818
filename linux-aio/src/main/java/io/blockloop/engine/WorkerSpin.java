package io.blockloop.engine;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The thread pool's spin-before-park: a worker that finishes the only running request, with none queued, may spin
 * for a short window waiting for the owner's next request instead of parking at once. At queue depth 1 the owner's
 * next request then needs no {@code notify}, and the worker's vCPU does not halt between two requests.
 *
 * <p>At most one worker spins at a time (the spinner's role, {@link #tryAcquire()}). The window adapts the way
 * QEMU's adaptive {@code AioContext} polling does ({@code poll-max-ns}, grow, shrink). A spin that catches a
 * request leaves the window as it is. A spin that misses records when it began; the owner's next hand-off then
 * measures how long the pool really waited ({@link #requestArrived(long)}):
 * <ul>
 *   <li>within the maximum: a longer spin would have caught it; the window doubles ({@link #GROW_START} from 0),
 *       up to the maximum;</li>
 *   <li>longer than the maximum: spinning was wasted; the window halves, and falls to 0 below
 *       {@link #GROW_START} (QEMU with {@code poll-shrink=2}; its default, 0, drops to 0 at once).</li>
 * </ul>
 * A steady stream of requests therefore keeps the window just above the owner's turnaround, and a trickle of
 * requests brings it to 0 within a few requests: an idle pool does not burn CPU.
 *
 * <p>Threads:
 * <ul>
 *   <li>{@link #tryAcquire()}, {@link #window()} and {@link #caught()}: the pool's workers.
 *       {@link #missed(long)}: a worker holding the pool's monitor. {@link #requestArrived(long)}: the owner
 *       holding the pool's monitor. So {@link #missSince} is guarded by that monitor.</li>
 *   <li>{@link #window} is written only by the owner, under the monitor, and read by a worker when it starts to
 *       spin; it is volatile so that the spinner, which reads it without the monitor, sees the latest value. Only
 *       the length of a spin depends on it.</li>
 *   <li>{@link #held} is the role: acquired with a CAS, given up with a volatile store; it guards nothing else.</li>
 *   <li>{@link #heartbeat}: written by the spinner on every pass (a release store, {@link #beat}), read by the
 *       owner ({@link #staleAt}) to tell a spinner that runs from one the scheduler has preempted. Only a wake-up
 *       decision depends on it.</li>
 * </ul>
 */
final class WorkerSpin {
    /** The first non-zero window, in nanoseconds (QEMU's adaptive polling starts at 4 µs as well). */
    static final long GROW_START = 4_000;
    /** A spinner whose last heartbeat is older than this is taken to be off its CPU. */
    static final long STALE_NANOS = 20_000;

    private final long maxNanos;
    private final long staleNanos;
    private final AtomicBoolean held = new AtomicBoolean();
    /** {@link System#nanoTime()} of the spinner's latest loop pass. */
    private final AtomicLong heartbeat = new AtomicLong();
    private volatile long window;
    /** When the last missed spin began, or -1 when no miss awaits its measurement. Guarded by the pool's monitor. */
    private long missSince = -1;

    /** {@code maxNanos} 0 turns spinning off: {@link #tryAcquire()} then always fails. */
    WorkerSpin(long maxNanos) {
        this(maxNanos, 0, STALE_NANOS);
    }

    /**
     * For tests: a window that starts at {@code initialNanos} (at most {@code maxNanos}) instead of 0, and a
     * heartbeat that goes stale after {@code staleNanos} (negative: it always counts as stale, whatever the race
     * between the spinner's last pass and the owner's clock reading).
     */
    WorkerSpin(long maxNanos, long initialNanos, long staleNanos) {
        if (maxNanos < 0 || initialNanos < 0 || initialNanos > maxNanos) {
            throw new IllegalArgumentException("need 0 <= initial window <= maximum, got " + initialNanos + " and "
                    + maxNanos + " ns");
        }
        this.maxNanos = maxNanos;
        this.window = initialNanos;
        this.staleNanos = staleNanos;
    }

    /** True while a worker holds the role (for tests). */
    boolean held() {
        return held.get();
    }

    /** Worker: takes the spinner's role; false when spinning is off or another worker spins. */
    boolean tryAcquire() {
        return maxNanos > 0 && !held.get() && held.compareAndSet(false, true);
    }

    /** Role holder: how long to spin, in nanoseconds (0 until a miss showed that spinning would pay). */
    long window() {
        return window;
    }

    /** Role holder, on every pass of its spin: it is running at {@code now}. */
    void beat(long now) {
        heartbeat.lazySet(now); // release store: a stale read only makes the owner wake a worker it need not have
    }

    /**
     * Owner: true when the spinner's last pass is older than the staleness limit at {@code now}, so the scheduler
     * has taken it off its CPU (or it is just giving up the role).
     */
    boolean staleAt(long now) {
        return staleNanos < 0 || now - heartbeat.get() > staleNanos;
    }

    /** Role holder: its spin found a request; the role is given up and the window stays. */
    void caught() {
        held.set(false);
    }

    /**
     * Role holder, holding the pool's monitor: its spin, begun at {@code since} ({@link System#nanoTime()}), found
     * nothing; the role is given up, and the next {@link #requestArrived(long)} adapts the window.
     */
    void missed(long since) {
        missSince = since;
        held.set(false);
    }

    /** Owner, holding the pool's monitor: true when a missed spin waits for {@link #requestArrived(long)}. */
    boolean missPending() {
        return missSince >= 0;
    }

    /** Owner, holding the pool's monitor: a request was handed off at {@code now}; adapts the window to a miss. */
    void requestArrived(long now) {
        if (missSince < 0) {
            return;
        }
        long waited = now - missSince;
        missSince = -1;
        long w = window;
        if (waited > maxNanos) {
            long half = w / 2;
            window = half < GROW_START ? 0 : half;
        } else if (waited > w) {
            window = Math.min(maxNanos, w == 0 ? GROW_START : w * 2);
        }
    }
}
