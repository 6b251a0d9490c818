package io.blockloop.cli.bench;

import io.blockloop.aio.PollingStats;
import io.blockloop.cli.ByteCount;
import io.blockloop.cli.Json;

import java.io.PrintStream;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * What {@code blockloop bench} prints about a run: {@code qemu-img bench}'s two lines ("Sending ..." before, "Run
 * completed in ..." after), then IOPS and MiB/s, latency percentiles, CPU time, engine and fd monitor, the loop's
 * busy polling (its settings, and what it did in the measured run) and pinning, the flushes' latencies with
 * {@code --flush-interval}, and the bytes the main thread allocated per request; or all of it as one JSON object.
 *
 * <p>Threads: the thread running the bench command (the main loop): its measurements hold the run's
 * {@link LatencyHistogram}, which is not thread-safe.
 *
 * @param options       the command line
 * @param target        what ran: the image path, or the null device's size
 * @param imageSize     bytes of the opened image
 * @param engine        the I/O engine the file node uses ({@code io_uring}, {@code native}, {@code threads}), or
 *                      {@code none} for the null driver
 * @param direct        whether the image was opened with {@code O_DIRECT}
 * @param registeredBuffers whether a node took the registered buffers (io_uring: fixed buffers)
 * @param fdMonitor     the main loop's fd monitor
 * @param loopCpu       the CPU the main loop's thread was pinned to, or -1 when it was not pinned
 * @param pollMaxNs     the main loop's busy-polling maximum per wait in ns (0: no busy polling)
 * @param highestOffset for {@code --random}: the highest offset the run could pick
 * @param warmup        the warm-up phase (not measured), or null when there was none
 * @param run           the measured phase
 */
record BenchReport(BenchOptions options, String target, long imageSize, String engine, boolean direct,
                   boolean registeredBuffers, String fdMonitor, int loopCpu, long pollMaxNs, long highestOffset,
                   Warmup.Result warmup, BenchRun.Measurement run) {

    /**
     * qemu-img bench's first line (for {@code --random}, the range instead of the start). {@code start}: where the
     * measured walk starts, {@code -o} unless a read warm-up walked on from there.
     */
    static String sendingLine(BenchOptions o, long highestOffset, long start) {
        String where = o.random()
                ? String.format(Locale.ROOT, "random offsets from %d to %d, step size %d, seed %d", o.offset(),
                highestOffset, o.step(), o.seed())
                : String.format(Locale.ROOT, "starting at offset %d, step size %d", start, o.step());
        return String.format(Locale.ROOT, "Sending %d %s requests, %d bytes each, %d in parallel (%s)", o.count(),
                o.write() ? "write" : "read", o.size(), o.depth(), where);
    }

    /** qemu-img bench's second line with {@code --flush-interval}, plus whether the flushes drain. */
    static String flushLine(BenchOptions o) {
        return String.format(Locale.ROOT, "Sending flush every %d requests%s", o.flushInterval(),
                o.drainOnFlush() ? "" : " (without draining the writes in flight)");
    }

    /** The line naming the default target. */
    static String defaultTargetLine(DefaultTarget t) {
        return "Default target: " + t.description() + " (" + ByteCount.format(DefaultTarget.SIZE) + ", "
                + (t.preallocated() ? "preallocated" : "sparse: this file system cannot preallocate")
                + ", removed when the run ends)";
    }

    /** The line after the warm-up. */
    static String warmupLine(Warmup.Result warmup) {
        String atRunDepth = warmup.requestsAtRunDepth() == warmup.requests() ? ""
                : String.format(Locale.ROOT, ", the last %d at the run's depth", warmup.requestsAtRunDepth());
        return String.format(Locale.ROOT, "Warm-up: %d requests in %.3f seconds%s (not measured)", warmup.requests(),
                warmup.nanos() / 1e9, atRunDepth);
    }

    double seconds() {
        return run.wallNanos() / 1e9;
    }

    double iops() {
        return run.requests() / Math.max(seconds(), 1e-9);
    }

    double mibPerSecond() {
        return iops() * options.size() / (1 << 20);
    }

    double cpuMicrosPerRequest() {
        return run.requests() == 0 ? 0 : run.cpuNanos() / 1e3 / run.requests();
    }

    double allocatedPerRequest() {
        return run.requests() == 0 ? 0 : (double) run.allocatedBytes() / run.requests();
    }

    /** The lines after the run, "Run completed in X seconds." first. */
    void printText(PrintStream out) {
        LatencyHistogram l = run.latency();
        out.printf(Locale.ROOT, "Run completed in %3.3f seconds.%n", seconds());
        out.printf(Locale.ROOT, "IOPS:       %.0f (%.1f MiB/s)%n", iops(), mibPerSecond());
        out.printf(Locale.ROOT, "latency:    p50 %s us, p99 %s us, p99.9 %s us (min %s, mean %s, max %s us)%n",
                micros(l.percentile(50)), micros(l.percentile(99)), micros(l.percentile(99.9)), micros(l.min()),
                micros(l.mean()), micros(l.max()));
        out.printf(Locale.ROOT, "CPU:        %.3f s, %.2f us per request (process: every thread; main thread"
                + " %.3f s)%n", run.cpuNanos() / 1e9, cpuMicrosPerRequest(), run.mainThreadCpuNanos() / 1e9);
        out.printf(Locale.ROOT, "engine:     %s (%s), fd monitor %s%n", engine,
                engine.equals("none") ? "null driver" : "cache=" + options.image().cache().option()
                        + (direct ? ", O_DIRECT" : "") + (registeredBuffers ? ", registered buffers" : ""),
                fdMonitor);
        out.printf(Locale.ROOT, "loop:       %s%s%n", pollMaxNs == 0 ? "no busy polling"
                        : "adaptive busy polling up to " + pollMaxNs + " ns per wait",
                loopCpu >= 0 ? ", thread pinned to CPU " + loopCpu : "");
        if (pollMaxNs != 0) {
            out.println("polling:    " + pollingSummary());
        }
        LatencyHistogram f = run.flushLatency();
        if (f != null && f.count() == 0) {
            out.println("flushes:    0 (fewer writes than the flush interval)");
        } else if (f != null) {
            out.printf(Locale.ROOT, "flushes:    %d, p50 %s us, p99 %s us (min %s, mean %s, max %s us)%n", f.count(),
                    micros(f.percentile(50)), micros(f.percentile(99)), micros(f.min()), micros(f.mean()),
                    micros(f.max()));
        }
        out.printf(Locale.ROOT, "allocated:  %.2f bytes per request (%d bytes on the main thread during the run;"
                + " %d on all threads)%n", allocatedPerRequest(), run.allocatedBytes(), run.allocatedBytesAllThreads());
    }

    /** Everything as one JSON object. */
    String json() {
        LatencyHistogram l = run.latency();
        Map<String, Object> latency = latencyMicros(l);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("target", target);
        m.put("default_target", options.defaultTarget());
        m.put("format", options.image().format());
        m.put("image_size", imageSize);
        m.put("operation", options.write() ? "write" : "read");
        m.put("count", options.count());
        m.put("depth", options.depth());
        m.put("size", options.size());
        m.put("step", options.step());
        m.put("offset", options.offset());
        m.put("random", options.random());
        if (options.random()) {
            m.put("seed", options.seed());
            m.put("highest_offset", highestOffset);
        }
        m.put("pattern", options.pattern());
        m.put("flush_interval", options.flushInterval());
        m.put("drain_on_flush", options.drainOnFlush());
        m.put("warmup_requests", warmup == null ? 0 : warmup.requests());
        m.put("warmup_requests_at_run_depth", warmup == null ? 0 : warmup.requestsAtRunDepth());
        m.put("warmup_seconds", warmup == null ? 0.0 : warmup.nanos() / 1e9);
        m.put("completed", run.requests());
        m.put("latency_samples", l.count());
        m.put("seconds", seconds());
        m.put("iops", iops());
        m.put("mib_per_second", mibPerSecond());
        m.put("latency_us", latency);
        LatencyHistogram f = run.flushLatency();
        m.put("flushes", f == null ? 0 : f.count());
        if (f != null) {
            m.put("flush_latency_us", latencyMicros(f));
        }
        m.put("cpu_seconds", run.cpuNanos() / 1e9);
        m.put("cpu_us_per_request", cpuMicrosPerRequest());
        m.put("cpu_main_thread_seconds", run.mainThreadCpuNanos() / 1e9);
        m.put("engine", engine);
        m.put("cache", options.image().cache().option());
        m.put("direct", direct);
        m.put("registered_buffers", registeredBuffers);
        m.put("fd_monitor", fdMonitor);
        m.put("loop_cpu", loopCpu >= 0 ? loopCpu : null);
        m.put("poll_max_ns", pollMaxNs);
        PollingStats p = run.polling();
        Map<String, Object> polling = new LinkedHashMap<>();
        polling.put("windows", p.windows());
        polling.put("windows_found_work", p.windowsFoundWork());
        polling.put("spin_seconds", p.spinNanos() / 1e9);
        polling.put("probes", p.probes());
        polling.put("probes_found_work", p.probesFoundWork());
        m.put("polling", polling);
        m.put("allocated_bytes", run.allocatedBytes());
        m.put("allocated_bytes_per_request", allocatedPerRequest());
        m.put("allocated_bytes_all_threads", run.allocatedBytesAllThreads());
        return Json.write(m);
    }

    /**
     * The measured run's busy polling in one line: the windows spun, how many found work, the time spent spinning
     * and its share of the main thread's CPU time, and the probes of closed windows.
     */
    private String pollingSummary() {
        PollingStats p = run.polling();
        double share = run.mainThreadCpuNanos() == 0 ? 0 : 100.0 * p.spinNanos() / run.mainThreadCpuNanos();
        return String.format(Locale.ROOT, "%d windows spun, %d found work; %.3f s spinning (%.0f %% of the main"
                + " thread's CPU); %d probes of closed windows, %d found work", p.windows(), p.windowsFoundWork(),
                p.spinNanos() / 1e9, share, p.probes(), p.probesFoundWork());
    }

    /** A histogram's summary in µs, as JSON. */
    private static Map<String, Object> latencyMicros(LatencyHistogram l) {
        Map<String, Object> latency = new LinkedHashMap<>();
        latency.put("min", l.min() / 1e3);
        latency.put("mean", l.mean() / 1e3);
        latency.put("p50", l.percentile(50) / 1e3);
        latency.put("p99", l.percentile(99) / 1e3);
        latency.put("p99_9", l.percentile(99.9) / 1e3);
        latency.put("max", l.max() / 1e3);
        return latency;
    }

    private static String micros(double nanos) {
        return String.format(Locale.ROOT, "%.1f", nanos / 1e3);
    }
}
