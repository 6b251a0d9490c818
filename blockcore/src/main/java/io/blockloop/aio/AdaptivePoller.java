package io.blockloop.aio;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.List;

/**
 * Adaptive userspace busy polling of one context (QEMU's {@code try_poll_mode}, {@code run_poll_handlers},
 * {@code poll_set_started}, {@code adjust_polling_time}).
 *
 * <p>Handlers join the polled set the first time they are dispatched (if they can poll). Before blocking, the
 * loop spins over their poll checks for up to the largest polling time among them; each handler's time adapts
 * to how long the loop really blocked (see {@link PollParams}). Under poll/epoll, busy polling is off while any
 * handler cannot poll (its fd would be starved). Under io_uring the CQ ring is visible from userspace, so
 * polling continues regardless, stops as soon as a completion (or the ring's flag that one waits for an enter) or
 * a queued change appears, and then collects them with a non-blocking wait instead of leaving polling mode (as
 * QEMU 10.2 does); handlers that stayed idle for 7 s are dropped from the polled set. Beyond QEMU, SQEs queued on
 * the monitor's ring (io_uring on the loop's own ring) are submitted before the spin
 * ({@code FdMonitor.submitBeforePolling}): otherwise they would stop it at once, and at queue depth 1 the loop
 * could never poll for its own request.
 *
 * <p>Beyond QEMU: spinning that keeps delaying its own work is suspended for a while ({@link SpinBackoff}). A
 * window that finds work is <em>paid</em>; one that runs out and is followed shortly by the work it waited for
 * is <em>unpaid</em> (on a shared CPU, the producer runs only once the spin stops). After a streak of unpaid
 * windows the loop blocks without spinning for 1 ms (doubling up to 64 ms while probes keep failing), so two
 * loop threads on one CPU, or a loop and another process, do not steal the CPU from the work they wait for.
 *
 * <p>Beyond QEMU: while every window is closed, a spin of the full {@code maxNs} is tried now and then
 * ({@link WindowProbe}); one that finds work opens the window at {@code maxNs}. Work that comes sooner when the
 * loop spins than when it sleeps (a loop device's read on a VM: 20 µs against 40 µs) would otherwise keep
 * QEMU's rule from ever opening it.
 *
 * <p>Threads: {@link #setParams} any thread; everything else the home thread. Memory ordering: parameters are
 * an immutable record published with a release store and picked up with an acquire load at the start of each
 * poll, where a change resets every handler's polling time (so no other thread touches handler state).
 */
final class AdaptivePoller {
    /** First polling time after growth from 0: 4 µs. */
    static final long INITIAL_POLL_NS = 4_000;
    /** A polled handler idle for this long is dropped (io_uring only). */
    static final long IDLE_INTERVAL_NS = 7_000_000_000L;

    private static final VarHandle PARAMS;

    static {
        try {
            PARAMS = MethodHandles.lookup().findVarHandle(AdaptivePoller.class, "params", PollParams.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final AioContext context;
    @SuppressWarnings("unused") // through PARAMS
    private PollParams params = PollParams.OFF;
    // ---- home thread ----
    private PollParams applied = PollParams.OFF;
    private final List<FdHandler> polled = new ArrayList<>();
    private final SpinBackoff backoff = new SpinBackoff();
    private final WindowProbe probe = new WindowProbe();
    private boolean started;
    // ---- counters for pollingStats() (home thread) ----
    private long windows;
    private long windowsFoundWork;
    private long spinNanos;
    private long probes;
    private long probesFoundWork;

    AdaptivePoller(AioContext context) {
        this.context = context;
    }

    /** Any thread. Takes effect at the next poll of the context. */
    void setParams(PollParams p) {
        // Release pairs with the acquire in applyParams().
        PARAMS.setRelease(this, p);
    }

    /** Any thread. Acquire: pairs with the release in {@link #setParams}, so the record is seen fully built. */
    PollParams paramsAcquire() {
        return (PollParams) PARAMS.getAcquire(this);
    }

    /** Home thread, at the start of each poll: adopts new parameters, resetting every polling time. */
    void applyParams() {
        PollParams p = paramsAcquire();
        if (p != applied) {
            applied = p;
            for (FdHandler h : polled) {
                h.pollNs = 0;
            }
            backoff.reset(p);
            probe.reset();
        }
    }

    boolean enabled() {
        return applied.maxNs() != 0;
    }

    boolean isStarted() {
        return started;
    }

    /** What this context's busy polling has done so far. Home thread. */
    PollingStats stats() {
        return new PollingStats(windows, windowsFoundWork, spinNanos, probes, probesFoundWork);
    }

    /** The contention back-off of this context's spinning. Home thread; for tests. */
    SpinBackoff backoff() {
        return backoff;
    }

    /** The probes of this context's closed windows. Home thread; for tests. */
    WindowProbe probe() {
        return probe;
    }

    int polledCount() {
        return polled.size();
    }

    /**
     * Busy-polls before a wait. May lower {@code pass.timeoutNs} (to 0 when something was found) and queue
     * poll-ready handlers; sets {@code pass.progress} when a handler other than the notifier is ready, and
     * {@code pass.spinUnpaid} when the window ran out without finding anything (see {@link #spinOutcome}).
     * Returns whether the poll checks ran (then they stood in for a non-blocking look at the fds). {@code nowNs}:
     * when the caller's iteration started ({@link AioContext#nowNs()}), for the probe and back-off schedules.
     */
    boolean tryPollMode(PollPass pass, long nowNs) {
        if (polled.isEmpty()) {
            return false;
        }
        long handlersNs = 0;
        for (int i = 0; i < polled.size(); i++) {
            FdHandler h = polled.get(i);
            if (!h.isDeletedAcquire()) {
                handlersNs = Math.max(handlersNs, h.pollNs);
            }
        }
        long windowNs = handlersNs;
        boolean probing = false;
        if (handlersNs == 0) {
            // Every window is closed. Try the full one now and then (WindowProbe), but only before a wait that
            // may last it: a window bounded by a timer or a non-blocking iteration would prove nothing.
            long fullNs = applied.maxNs();
            if (soonest(pass.timeoutNs, fullNs) != fullNs || !probe.due(nowNs)) {
                return false;
            }
            windowNs = fullNs;
            probing = true;
        }
        long maxNs = soonest(pass.timeoutNs, windowNs);
        if (maxNs == 0) {
            return false;
        }
        if (backoff.isSuspended() && !backoff.mayStart(nowNs)) {
            return false; // spinning did not pay lately: block like a loop without polling
        }
        // Requests queued on the monitor's ring (io_uring on the loop's ring) go to the kernel now: the spin could
        // never see them complete, and their queued SQEs would stop it at once (needWait).
        context.submitBeforePolling();
        if (context.needWait()) {
            if (context.monitorSeesReadinessWithoutWaiting()) {
                pass.timeoutNs = 0; // collect completions without blocking and stay in polling mode
            }
            return false;
        }
        setStarted(true, pass);
        pass.probing = probing;
        // A window bounded by the wait's own timeout (a timer is due) says nothing about paying off.
        runPollHandlers(pass, maxNs, maxNs != windowNs);
        return true;
    }

    private void runPollHandlers(PollPass pass, long maxNs, boolean timeoutBound) {
        long start = context.nowNs();
        long now = start;
        long elapsed;
        boolean found = false;
        boolean cut = false;
        do {
            found |= runPollHandlersOnce(pass, now);
            now = context.nowNs();
            elapsed = now - start;
            maxNs = soonest(pass.timeoutNs, maxNs);
            if (context.needWait()) {
                if (context.monitorSeesReadinessWithoutWaiting()) {
                    pass.timeoutNs = 0;
                }
                cut = true;
                break;
            }
        } while (elapsed < maxNs);
        // A window cut short because the monitor shows readiness in memory (a CQE arrived) found its work too.
        boolean paid = found || (cut && context.monitorSeesReadinessWithoutWaiting());
        windows++;
        spinNanos += elapsed;
        if (paid) {
            windowsFoundWork++;
            backoff.windowPaid();
        } else if (!cut && !timeoutBound) {
            pass.spinUnpaid = true;
            pass.spinEndNs = now;
        }
        if (pass.probing) {
            probes++;
            if (paid) {
                probesFoundWork++;
                probe.paid();
            } else {
                probe.unpaid(start);
            }
        }
        if (context.monitorSeesReadinessWithoutWaiting()) {
            removeIdlePollHandlers(pass, now);
        }
        if (pass.timeoutNs > 0) {
            pass.timeoutNs -= Math.min(pass.timeoutNs, elapsed);
        }
    }

    /** One pass over the poll checks. Returns whether any handler (the context notifier too) had work. */
    private boolean runPollHandlersOnce(PollPass pass, long now) {
        boolean found = false;
        for (int i = 0; i < polled.size(); i++) {
            FdHandler h = polled.get(i);
            if (h.isDeletedAcquire()) {
                continue;
            }
            if (context.runPollCheck(h)) {
                pass.addPollReady(h);
                h.pollIdleTimeoutNs = now + IDLE_INTERVAL_NS;
                pass.timeoutNs = 0;
                found = true;
                if (!h.contextNotifier) {
                    pass.progress = true;
                }
            }
        }
        return found;
    }

    /**
     * After an iteration whose spin window was unpaid ({@code pass.spinUnpaid}): the wait after it ended at
     * {@code waitEndNs} and the iteration made {@code progress} or not. Feeds {@link SpinBackoff}.
     */
    void spinOutcome(PollPass pass, long waitEndNs, boolean progress) {
        if (pass.spinUnpaid) {
            pass.spinUnpaid = false;
            backoff.windowUnpaid(pass.spinEndNs, waitEndNs, progress);
        }
    }

    private void removeIdlePollHandlers(PollPass pass, long now) {
        for (int i = 0; i < polled.size(); i++) {
            FdHandler h = polled.get(i);
            if (h.pollIdleTimeoutNs == 0) {
                h.pollIdleTimeoutNs = now + IDLE_INTERVAL_NS;
            } else if (now >= h.pollIdleTimeoutNs && !h.isDeletedAcquire()) {
                polled.remove(i--);
                h.inPollList = false;
                h.pollIdleTimeoutNs = 0;
                if (started) {
                    context.runCallback("fd poll end", h.name, h.pollEnd);
                    // A last check: work may have arrived just before the end callback re-enabled notifications.
                    if (context.runPollCheck(h)) {
                        pass.addPollReady(h);
                        pass.timeoutNs = 0;
                        if (!h.contextNotifier) {
                            pass.progress = true;
                        }
                    }
                }
            }
        }
    }

    /**
     * Enters or leaves busy-polling mode, calling every polled handler's begin or end callback. When leaving,
     * checks each handler once more (work that arrived while its notifications were off). Returns whether that
     * found progress.
     */
    boolean setStarted(boolean start, PollPass pass) {
        if (start == started) {
            return false;
        }
        started = start;
        boolean progress = false;
        for (int i = 0; i < polled.size(); i++) {
            FdHandler h = polled.get(i);
            if (h.isDeletedAcquire()) {
                continue;
            }
            if (start) {
                context.runCallback("fd poll begin", h.name, h.pollBegin);
            } else {
                context.runCallback("fd poll end", h.name, h.pollEnd);
                if (context.runPollCheck(h)) {
                    pass.addPollReady(h);
                    if (!h.contextNotifier) {
                        progress = true;
                    }
                }
            }
        }
        return progress;
    }

    /** Adds a dispatched handler to the polled set (QEMU: handlers join polling when they first fire). */
    void add(FdHandler h) {
        polled.add(h);
        h.inPollList = true;
        if (started) {
            context.runCallback("fd poll begin", h.name, h.pollBegin);
        }
    }

    /** Takes {@code h} out of the polled set while its poll-ready callback runs (no re-entry from a nested loop). */
    void removeTemporarily(FdHandler h) {
        polled.remove(h);
        h.inPollList = false;
    }

    /** Drops deleted handlers from the polled set. Outermost poll only. */
    void sweepDeleted() {
        for (int i = polled.size() - 1; i >= 0; i--) {
            FdHandler h = polled.get(i);
            if (h.isDeletedAcquire()) {
                polled.remove(i);
                h.inPollList = false;
            }
        }
    }

    /**
     * QEMU's {@code adjust_polling_time}: grow or shrink {@code h}'s polling time after a wait of {@code blockNs}.
     * After a {@linkplain WindowProbe probe} ({@code probing}), work that came within {@code maxNs} opens the
     * window at once at {@code maxNs}: it came that soon because the loop spun, and a window grown step by step
     * from 4 µs would sleep through it again.
     */
    void adjust(FdHandler h, long blockNs, boolean probing) {
        PollParams p = applied;
        long maxNs = p.maxNs();
        if (blockNs <= h.pollNs) {
            return; // the sweet spot: polling would have caught it
        }
        if (blockNs > maxNs) {
            h.pollNs = p.shrink() == 0 ? 0 : h.pollNs / p.shrink();
        } else if (probing) {
            h.pollNs = maxNs;
        } else if (h.pollNs < maxNs && blockNs < maxNs) {
            long grown = h.pollNs == 0 ? INITIAL_POLL_NS : h.pollNs * (p.grow() == 0 ? 2 : p.grow());
            h.pollNs = Math.min(grown, maxNs);
        }
    }

    /** The sooner of two timeouts where -1 means "none" (QEMU's {@code qemu_soonest_timeout}). */
    static long soonest(long a, long b) {
        return Long.compareUnsigned(a, b) <= 0 ? a : b;
    }
}
