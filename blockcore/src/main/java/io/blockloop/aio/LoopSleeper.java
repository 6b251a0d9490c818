package io.blockloop.aio;

/**
 * A completion source that the loop may sleep in instead of its fd monitor ({@link AioContext#setSleeper}): the
 * native engine, whose {@code io_getevents} is woken by the completion itself, one hop sooner than the eventfd
 * that the monitor would watch (fio's libaio wait; {@code docs/qd1-reads-on-loop-devices.md}). The loop sleeps in
 * it only while it {@linkplain #canSleep() has completions to wait for} and the monitor has nothing to report; the
 * sleep also ends when the monitor's readiness fd becomes readable, so no fd event waits for a completion.
 *
 * <p>Threads: the context's home thread only, which is also the source's owner.
 */
public interface LoopSleeper {
    /**
     * The fd of the source's handler in the context (its completion fd, which it keeps watched for what completes
     * without a sleep). Completions delivered by {@link #sleep} and {@link #poll} count as that handler's events:
     * they put it in the busy-polling set and adapt its polling time, as a dispatch of the fd would.
     */
    int completionFd();

    /** Whether a sleep would end with one of the source's own completions: requests are in flight. */
    boolean canSleep();

    /**
     * Blocks until one of the source's completions, until {@code readinessFd} is readable, or until
     * {@code timeoutNs} passes ({@code < 0}: no limit); delivers what completed and returns how many.
     */
    int sleep(int readinessFd, long timeoutNs);

    /** Delivers what has completed, without blocking; returns how many. */
    int poll();

    /**
     * Whether the loop busy-polls the source now: its handler is in the polling set with a window open. Told after
     * every iteration; a source may signal its completions differently by it (the native engine signals its
     * completion fd only while busy-polled, {@link io.blockloop.aio.AioContext#setSleeper}).
     */
    void setBusyPolled(boolean busyPolled);
}
