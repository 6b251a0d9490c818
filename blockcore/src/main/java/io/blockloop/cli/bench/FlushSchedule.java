package io.blockloop.cli.bench;

import io.blockloop.coroutine.CoQueue;

/**
 * When {@code blockloop bench --flush-interval N} flushes: after every N writes of a phase, counted as they are
 * issued ({@code qemu-img bench}'s {@code --flush-interval}).
 *
 * <p>Drained (the default, as in qemu-img): the N-th write raises a barrier, so no worker issues another write;
 * when the last write in flight has completed, the flush starts; when it ends, the barrier falls and the waiting
 * workers go on. Not drained ({@code --no-drain}): the flush starts when the N-th write completes, beside the
 * writes still in flight, and nobody waits for it. Either way the flush is one request more, beside the DEPTH
 * writes, and the phase ends only when every flush it started has ended.
 *
 * <p>This class only decides; {@link BenchRun} issues the flush when {@link #writeCompleted} says so, and reports
 * its end with {@link #flushEnded}.
 *
 * <p>Threads: the run's home thread, from its worker and flush coroutines (plain fields, no ordering).
 */
final class FlushSchedule {
    private final int interval;
    private final boolean drain;
    /** Workers waiting for the barrier to fall (drained mode). */
    private final CoQueue barrierWaiters = new CoQueue();
    private long writesInFlight;
    /** Drained mode: no write may be issued until the due flush has ended. */
    private boolean barrier;
    /** Drained mode: the barrier is up and its flush has not started yet (writes are still in flight). */
    private boolean flushDue;

    /** A flush after every {@code interval} writes (at least 1), {@code drain}ed or not. */
    FlushSchedule(int interval, boolean drain) {
        if (interval < 1) {
            throw new IllegalArgumentException("flush interval must be at least 1: " + interval);
        }
        this.interval = interval;
        this.drain = drain;
    }

    int interval() {
        return interval;
    }

    boolean drain() {
        return drain;
    }

    /** Whether a worker must {@linkplain #awaitBarrier wait} before it issues a write (drained mode). */
    boolean holdsWrites() {
        return barrier;
    }

    /** Waits until the barrier falls. Worker coroutine, while {@link #holdsWrites()}. */
    void awaitBarrier() {
        barrierWaiters.await();
    }

    /**
     * A worker is about to issue the phase's {@code issued}-th write (counted from 1). Returns whether it is a
     * flush's write, the N-th; in drained mode that raises the barrier.
     */
    boolean writeIssued(long issued) {
        writesInFlight++;
        boolean flushesAfter = issued % interval == 0;
        if (flushesAfter && drain) {
            barrier = true;
            flushDue = true;
        }
        return flushesAfter;
    }

    /**
     * A write ended, successfully or not; {@code flushesAfter}: what {@link #writeIssued} said of it. Returns
     * whether the flush should start now: in drained mode when the barrier is up and no write is in flight any
     * more, otherwise when this was a flush's write. The caller then starts it, or, when the run has already
     * failed, calls {@link #flushEnded} at once.
     */
    boolean writeCompleted(boolean flushesAfter) {
        writesInFlight--;
        if (!drain) {
            return flushesAfter;
        }
        if (flushDue && writesInFlight == 0) {
            flushDue = false;
            return true;
        }
        return false;
    }

    /** A flush ended (or was not started because the run failed): the barrier falls, waiting workers go on. */
    void flushEnded() {
        if (drain) {
            barrier = false;
            barrierWaiters.restartAll();
        }
    }

    /**
     * A worker ended by an exception with its write's bookkeeping undone: drops the barrier, so the waiting
     * workers see the failure and end instead of waiting for a flush that will never come.
     */
    void abandon() {
        flushDue = false;
        barrier = false;
        barrierWaiters.restartAll();
    }

    /** Starts a phase: nothing in flight, no barrier. */
    void reset() {
        writesInFlight = 0;
        barrier = false;
        flushDue = false;
    }
}
