package io.blockloop.aio;

/**
 * What a context's adaptive busy polling has done so far ({@link AioContext#pollingStats()}): how often it spun
 * before a wait, how often a spin found work, and how long it spun in all. It says how much of a loop thread's CPU
 * time went into spinning, and whether that spinning paid.
 *
 * <p>A <em>window</em> is one spin over the polled handlers' checks before a wait. It <em>found work</em> when a
 * check was ready or a completion showed in the monitor's ring before it ran out. A <em>probe</em> is a window
 * spun while every handler's window was closed, to see whether the work comes sooner when the loop spins
 * ({@code WindowProbe}); probes are counted among the windows too.
 *
 * <p>Immutable value; any thread.
 *
 * @param windows           spins before a wait
 * @param windowsFoundWork  of those, the spins that found work
 * @param spinNanos         time spent spinning, all windows together
 * @param probes            of the windows, the probes of closed windows
 * @param probesFoundWork   of those, the probes that found work (and opened the window)
 */
public record PollingStats(long windows, long windowsFoundWork, long spinNanos, long probes, long probesFoundWork) {
    /** Nothing spun yet. */
    public static final PollingStats NONE = new PollingStats(0, 0, 0, 0, 0);

    /** What happened between {@code earlier} and this snapshot of the same context. */
    public PollingStats since(PollingStats earlier) {
        return new PollingStats(windows - earlier.windows, windowsFoundWork - earlier.windowsFoundWork,
                spinNanos - earlier.spinNanos, probes - earlier.probes, probesFoundWork - earlier.probesFoundWork);
    }
}
