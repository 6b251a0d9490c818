package io.blockloop.engine;

/**
 * How long a thread spins for work before it sleeps, adapted the way QEMU's adaptive {@code AioContext} polling
 * adapts {@code poll-max-ns} (grow, shrink). Used by the thread pool's finishing worker, which waits for the owner's
 * next request ({@link WorkerSpin}), and by every engine's owner waiting in {@code awaitCompletions} for the
 * completion of its only request ({@link CompletionSpin}).
 *
 * <p>A spin that finds its work leaves the window as it is. A spin that misses records when it began
 * ({@link #missed(long)}); when the work then arrives, {@link #arrived(long)} measures how long the thread really
 * waited:
 * <ul>
 *   <li>within the maximum: a longer spin would have caught it; the window doubles ({@link #GROW_START} from 0),
 *       up to the maximum;</li>
 *   <li>longer than the maximum: spinning was wasted; the window halves, and falls to 0 below
 *       {@link #GROW_START} (QEMU with {@code poll-shrink=2}; its default, 0, drops to 0 at once).</li>
 * </ul>
 * A steady stream of work that comes within the maximum therefore keeps the window just above its turnaround,
 * and work that takes longer (a read from a slow disk) brings it to 0 within a few misses: a thread whose spin
 * cannot pay does not burn CPU.
 *
 * <p>Threads: {@link #missed}, {@link #missPending} and {@link #arrived} by one thread at a time, which the user
 * guarantees (the worker spin: the pool's monitor; the owner's spin: the owner thread); {@link #missSince} is
 * guarded by that. {@link #window} is written only there and is volatile, so that a spinner that reads it outside
 * that guard sees the latest value; only the length of a spin depends on it.
 */
final class SpinWindow {
    /** The first non-zero window, in nanoseconds (QEMU's adaptive polling starts at 4 µs as well). */
    static final long GROW_START = 4_000;

    private final long maxNanos;
    private volatile long window;
    /** When the last missed spin began, or -1 when no miss awaits its measurement. */
    private long missSince = -1;

    /** A window that starts at {@code initialNanos} (0 in use; tests start elsewhere), at most {@code maxNanos}. */
    SpinWindow(long maxNanos, long initialNanos) {
        if (maxNanos < 0 || initialNanos < 0 || initialNanos > maxNanos) {
            throw new IllegalArgumentException("need 0 <= initial window <= maximum, got " + initialNanos + " and "
                    + maxNanos + " ns");
        }
        this.maxNanos = maxNanos;
        this.window = initialNanos;
    }

    /** The longest the window may grow; 0: spinning is off. */
    long maxNanos() {
        return maxNanos;
    }

    /** How long to spin now, in nanoseconds (0 until a miss showed that spinning would pay). */
    long window() {
        return window;
    }

    /** The spin begun at {@code since} ({@link System#nanoTime()}) found nothing; the next arrival adapts. */
    void missed(long since) {
        missSince = since;
    }

    /** True when a missed spin waits for {@link #arrived(long)}. */
    boolean missPending() {
        return missSince >= 0;
    }

    /** The work came at {@code now}; adapts the window to the miss before it, if there was one. */
    void arrived(long now) {
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
