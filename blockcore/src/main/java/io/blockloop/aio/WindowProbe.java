package io.blockloop.aio;

/**
 * When a closed busy-polling window is tried once at its full length: the rule {@link AdaptivePoller} adds to
 * QEMU's grow/shrink adaptation for work that arrives sooner when the loop polls than when it sleeps.
 *
 * <p>QEMU's rule learns from how long the loop blocked: it grows a handler's polling time only after a wait
 * shorter than {@code maxNs}. That assumes the work takes as long whether the loop spins or sleeps. It does not
 * when the loop's own sleep is part of the work's latency. Measured on a 2-vCPU VM: a QD 1 read of a loop device
 * takes 35–45 µs when the loop sleeps for it (the wake-up crosses vCPUs and may find the vCPU halted) and about
 * 20 µs when the loop spins. With QEMU's IOThread default of 32 µs, every blocking wait is over the maximum, so
 * the window shrinks to 0 and never grows again, although a 32 µs window would catch every completion
 * ({@code docs/qd1-reads-on-loop-devices.md}).
 *
 * <p>So, while every polled handler's time is 0, a spin of the full {@code maxNs} is tried once in a while
 * (a <em>probe</em>). A probe that finds work opens the window of the handlers it found ready at
 * {@code maxNs}; from there QEMU's rule keeps it (a wait within the window is the sweet spot) or shrinks it (a
 * wait over {@code maxNs}). A probe that finds nothing has cost one window of CPU; the next one waits twice as
 * long, from {@link #MIN_INTERVAL_NS} (1 ms) up to {@link #MAX_INTERVAL_NS} (1 s), so a loop whose work is always
 * slower than the window spends at most {@code maxNs} of CPU per second on probes (32 µs: 0.003 %). After a
 * probe that pays, the next one is due at once and the interval starts again at 1 ms: QEMU's rule closes a window
 * after a single wait over {@code maxNs}, and on a loaded machine one request in ten may take that long while
 * the others come in half the window. Waiting 1 ms to reopen it lost much of the gain (QD 1 reads of a loop
 * device, three alternating rounds: io_uring 18.5k–38.8k IOPS with a 1 ms wait, 39.9k–53.2k without).
 *
 * <p>Pure bookkeeping, times passed in by the caller. Threads: the context's home thread only (no ordering).
 */
final class WindowProbe {
    /** The interval after the first probe that found nothing: 1 ms. */
    static final long MIN_INTERVAL_NS = 1_000_000;
    /** Intervals double while probes find nothing, up to 1 s. */
    static final long MAX_INTERVAL_NS = 1_000_000_000;

    private long intervalNs = MIN_INTERVAL_NS;
    private long nextNs;
    private boolean armed;
    private long paid;
    private long unpaid;

    /** Adopts new parameters: the first probe may run at once. */
    void reset() {
        intervalNs = MIN_INTERVAL_NS;
        armed = false;
    }

    /** Whether a probe may run at {@code nowNs}. */
    boolean due(long nowNs) {
        return !armed || nowNs - nextNs >= 0;
    }

    /** A probe found work: the window opens, and should it close again, the next probe may run at once. */
    void paid() {
        paid++;
        intervalNs = MIN_INTERVAL_NS;
        armed = false;
    }

    /** The probe that started at {@code startNs} ran its full window without finding work. */
    void unpaid(long startNs) {
        unpaid++;
        nextNs = startNs + intervalNs;
        armed = true;
        intervalNs = Math.min(intervalNs * 2, MAX_INTERVAL_NS);
    }

    // ---- diagnostics (tests) ----

    long intervalNs() {
        return intervalNs;
    }

    long paidProbes() {
        return paid;
    }

    long unpaidProbes() {
        return unpaid;
    }
}
