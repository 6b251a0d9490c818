package io.blockloop.aio;

/**
 * Adaptive busy-polling parameters of a context (QEMU's {@code poll-max-ns}, {@code poll-grow},
 * {@code poll-shrink}).
 *
 * <p>Each polled handler has its own polling time, starting at 0. After a wait that blocked longer than the
 * handler's time but less than {@code maxNs}, its time grows (4 µs first, then times {@code grow}, 2 when 0),
 * capped at {@code maxNs}; after a wait longer than {@code maxNs} it shrinks (divided by {@code shrink}, reset
 * to 0 when {@code shrink} is 0). {@code maxNs == 0} turns busy polling off. On top of QEMU's rule, a context
 * stops spinning for a while when its spin windows keep running out just before their work arrives (a CPU
 * shared with the producer; see {@code SpinBackoff}), and tries a closed window at {@code maxNs} now and then,
 * opening it when that finds work (see {@code WindowProbe}).
 *
 * <p>Immutable value; any thread.
 */
public record PollParams(long maxNs, long grow, long shrink) {
    /** IOThreads poll for at most 32 µs by default (QEMU's {@code IOTHREAD_POLL_MAX_NS_DEFAULT}). */
    public static final long IOTHREAD_DEFAULT_MAX_NS = 32_768;
    /** No busy polling: the default of a plain or main-loop context. */
    public static final PollParams OFF = new PollParams(0, 0, 0);
    /** QEMU's IOThread default: 32768 ns, default grow and shrink. */
    public static final PollParams IOTHREAD_DEFAULT = new PollParams(IOTHREAD_DEFAULT_MAX_NS, 0, 0);
    /** Busy polling needs a CPU besides the one the polling thread holds: below this many, IOThreads do not poll. */
    public static final int MIN_PROCESSORS_FOR_POLLING = 2;

    public PollParams {
        if (maxNs < 0 || grow < 0 || shrink < 0) {
            throw new IllegalArgumentException("poll parameters must not be negative: " + maxNs + ", " + grow
                    + ", " + shrink);
        }
    }

    public boolean enabled() {
        return maxNs != 0;
    }

    /**
     * What a new {@link IOThread} uses unless told otherwise: {@link #ioThreadDefaultFor} the processors this JVM
     * may use now ({@link Runtime#availableProcessors()}: the CPU affinity mask and a container's CPU limit).
     */
    public static PollParams ioThreadDefault() {
        return ioThreadDefaultFor(Runtime.getRuntime().availableProcessors());
    }

    /**
     * The IOThread default on a machine with {@code processors} CPUs: {@link #IOTHREAD_DEFAULT} with at least
     * {@link #MIN_PROCESSORS_FOR_POLLING}, else {@link #OFF}. With one CPU, every thread that could produce the
     * work a loop spins for (another IOThread, an I/O engine's worker, a kernel worker of a loop device) needs
     * the CPU the spin holds, so the spin can only delay it.
     */
    public static PollParams ioThreadDefaultFor(int processors) {
        if (processors < 1) {
            throw new IllegalArgumentException("processors must be positive: " + processors);
        }
        return processors >= MIN_PROCESSORS_FOR_POLLING ? IOTHREAD_DEFAULT : OFF;
    }
}
