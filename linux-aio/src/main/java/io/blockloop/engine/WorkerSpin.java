package io.blockloop.engine;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The thread pool's spin-before-park: a worker that finishes the only running request, with none queued, may spin
 * for a short window waiting for the owner's next request instead of parking at once. At queue depth 1 the owner's
 * next request then needs no {@code notify}, and the worker's vCPU does not halt between two requests.
 *
 * <p>At most one worker spins at a time (the spinner's role, {@link #tryAcquire()}). The window adapts as a
 * {@link SpinWindow}: a spin that misses records when it began ({@link #missed(long)}), and the owner's next
 * hand-off measures how long the pool really waited ({@link #requestArrived(long)}). A steady stream of requests
 * keeps the window just above the owner's turnaround, and a trickle of requests brings it to 0 within a few
 * requests: an idle pool does not burn CPU.
 *
 * <p>Threads:
 * <ul>
 *   <li>{@link #tryAcquire()}, {@link #window()} and {@link #caught()}: the pool's workers.
 *       {@link #missed(long)}: a worker holding the pool's monitor. {@link #requestArrived(long)} and
 *       {@link #missPending()}: the owner holding the pool's monitor. So the window's bookkeeping is guarded by
 *       that monitor, as {@link SpinWindow} requires; a spinner reads the window's length without it.</li>
 *   <li>{@link #held} is the role: acquired with a CAS, given up with a volatile store; it guards nothing else.</li>
 *   <li>{@link #heartbeat}: written by the spinner on every pass (a release store, {@link #beat}), read by the
 *       owner ({@link #staleAt}) to tell a spinner that runs from one the scheduler has preempted. Only a wake-up
 *       decision depends on it.</li>
 * </ul>
 */
final class WorkerSpin {
    /** A spinner whose last heartbeat is older than this is taken to be off its CPU. */
    static final long STALE_NANOS = 20_000;

    private final long staleNanos;
    private final AtomicBoolean held = new AtomicBoolean();
    /** {@link System#nanoTime()} of the spinner's latest loop pass. */
    private final AtomicLong heartbeat = new AtomicLong();
    private final SpinWindow window;

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
        this.window = new SpinWindow(maxNanos, initialNanos);
        this.staleNanos = staleNanos;
    }

    /** True while a worker holds the role (for tests). */
    boolean held() {
        return held.get();
    }

    /** Worker: takes the spinner's role; false when spinning is off or another worker spins. */
    boolean tryAcquire() {
        return window.maxNanos() > 0 && !held.get() && held.compareAndSet(false, true);
    }

    /** Role holder: how long to spin, in nanoseconds (0 until a miss showed that spinning would pay). */
    long window() {
        return window.window();
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
        window.missed(since);
        held.set(false);
    }

    /** Owner, holding the pool's monitor: true when a missed spin waits for {@link #requestArrived(long)}. */
    boolean missPending() {
        return window.missPending();
    }

    /** Owner, holding the pool's monitor: a request was handed off at {@code now}; adapts the window to a miss. */
    void requestArrived(long now) {
        window.arrived(now);
    }
}
