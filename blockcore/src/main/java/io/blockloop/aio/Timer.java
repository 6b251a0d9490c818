package io.blockloop.aio;

/**
 * A one-shot timer on its context's monotonic nanosecond clock ({@link AioContext#nowNs()}); its callback runs
 * in the context's home thread once the deadline has passed (QEMU's {@code QEMUTimer} on
 * {@code QEMU_CLOCK_REALTIME} with {@code SCALE_NS}). Re-arm it with {@link #modNs}/{@link #modAfterNs}, also
 * from its own callback. Create one with {@link AioContext#newTimer}.
 *
 * <p>Threads: every method may be called from any thread. Arming a deadline earlier than every other armed
 * timer of the context wakes the loop, so a loop blocked with a longer timeout recomputes it.
 *
 * <p>Memory ordering: the deadline and heap position are guarded by the context's timer-list lock; the loop
 * takes the same lock to find and remove an expired timer, so whatever a thread wrote before arming happens
 * before the callback runs.
 */
public final class Timer {
    private final AioContext context;
    private final String name;
    private final Runnable callback;
    // ---- guarded by the context's TimerList lock ----
    long deadlineNs;
    int heapIndex = -1;
    boolean deleted;

    Timer(AioContext context, String name, Runnable callback) {
        this.context = context;
        this.name = name;
        this.callback = callback;
    }

    public String name() {
        return name;
    }

    public AioContext context() {
        return context;
    }

    Runnable callback() {
        return callback;
    }

    /**
     * Arms (or re-arms) the timer to expire at {@code deadlineNanos} on {@link AioContext#nowNs()}'s clock.
     *
     * @throws IllegalStateException when the timer was deleted or its context is closing or closed (nothing would
     *                               run it: an IOThread's last pass runs BHs, not timers)
     */
    public void modNs(long deadlineNanos) {
        if (context.refusesTimers()) {
            throw new IllegalStateException("timer '" + name + "': context '" + context.name() + "' is "
                    + (context.isClosed() ? "closed" : "closing"));
        }
        if (context.timers().mod(this, deadlineNanos)) {
            context.notifyLoop();
        }
    }

    /** Arms the timer {@code delayNanos} from now (saturating; a negative delay means "now"). */
    public void modAfterNs(long delayNanos) {
        long now = context.nowNs();
        long deadline = delayNanos <= 0 ? now : now + delayNanos;
        if (deadline < now) {
            deadline = Long.MAX_VALUE;
        }
        modNs(deadline);
    }

    /** Disarms the timer if armed (QEMU's {@code timer_del}). */
    public void cancel() {
        context.timers().cancel(this);
    }

    /** Disarms the timer for good; it may not be armed again ({@code timer_free}). Idempotent. */
    public void delete() {
        context.timers().delete(this);
    }

    /** Whether the timer is armed and has not fired yet. */
    public boolean isPending() {
        return context.timers().isPending(this);
    }

    /** The armed deadline, or -1 when not armed. */
    public long deadlineNs() {
        return context.timers().deadlineOf(this);
    }

    @Override
    public String toString() {
        return "Timer[" + name + "]";
    }
}
