package io.blockloop.cli.bench;

import java.lang.management.CompilationMXBean;
import java.lang.management.ManagementFactory;

/**
 * The unmeasured phase before the measured run, so that the request path runs compiled by the JIT (C2) rather
 * than interpreted: without it the first seconds of a run measure the JVM's start, not BlockLoop (a QD 1 run on a
 * busy two-core machine showed the hot methods reaching C2 only 4 to 5 seconds in).
 *
 * <ul>
 *   <li>{@code --warmup N}: exactly N requests, at the run's queue depth.</li>
 *   <li>Default: requests at queue depth {@code max(DEPTH, 32)} (more requests per second, so the JIT's counters
 *       fill sooner; the slots beyond DEPTH are used only here, and only as many as 64 MiB of buffers allow) in
 *       slices of 100 ms, until the JIT compiler has
 *       been quiet ({@link CompilationMXBean#getTotalCompilationTime()} unchanged) for 300 ms, after at least
 *       0.5 s and at most 5 s. Then, when DEPTH is lower, the same at DEPTH, for 0.3 s to 2 s: at QD 1 the loop
 *       blocks or polls after every request, which it rarely does at 32, and the first times it did so in the
 *       measured run still compiled and allocated there (a method handle of the polling path customised itself
 *       after its 127th call: 66 KiB at once, in half the native QD 1 runs on a slow device).</li>
 * </ul>
 *
 * <p>A write benchmark's warm-up writes only the offsets the measured run writes ({@link OffsetSequence#restartEvery}):
 * before, it walked on for seconds and wrote the whole image, below {@code -o} too.
 *
 * <p>Threads: the main loop's thread (it drives {@link BenchRun}).
 */
final class Warmup {
    /** Queue depth of the default warm-up, when DEPTH is lower. */
    static final int DEPTH = 32;
    static final long SLICE_NS = 100_000_000L;
    static final long MIN_NS = 500_000_000L;
    static final long QUIET_NS = 300_000_000L;
    static final long MAX_NS = 5_000_000_000L;
    /** The longest the default warm-up's second stage, at the run's own depth, may take. */
    static final long MAX_OWN_DEPTH_NS = 2_000_000_000L;

    /**
     * What the warm-up did: requests (of which {@code requestsAtRunDepth} at the measured run's own depth), wall
     * time, and whether it ended because the JIT went quiet. Immutable.
     */
    record Result(long requests, long requestsAtRunDepth, long nanos, boolean jitQuiet) {
    }

    private Warmup() {
    }

    /** The most memory the default warm-up adds in buffers beyond the run's own (one request's at least). */
    static final long EXTRA_BUFFER_BYTES = 64L << 20;

    /**
     * The slots {@link BenchRun} needs for a run at {@code depth} warmed up as {@code options} asks: up to
     * {@link #DEPTH} for the default warm-up, as long as their buffers stay within {@link #EXTRA_BUFFER_BYTES}
     * (a one-request run of 1 GiB requests asked for 32 GiB before).
     */
    static int slots(BenchOptions options) {
        int depth = (int) Math.min(options.depth(), options.count());
        if (options.warmup() != BenchOptions.WARMUP_DEFAULT) {
            return depth;
        }
        long affordable = Math.max(1, EXTRA_BUFFER_BYTES / options.size());
        return (int) Math.max(depth, Math.min(DEPTH, affordable));
    }

    /**
     * Runs the warm-up {@code options} asks for on {@code run}, whose requests take their offsets from
     * {@code offsets}; null when there is none ({@code --warmup 0}). A write warm-up repeats the measured run's
     * COUNT offsets and leaves {@code offsets} at the first one again; a read warm-up walks on (the measured run
     * does not read again what it just read, which a cache below, the host's for one, would serve). A failed
     * request ends it early: the caller checks {@link BenchRun#failure()}.
     */
    static Result run(BenchRun run, OffsetSequence offsets, BenchOptions options) {
        if (options.warmup() == 0) {
            return null;
        }
        if (!options.write()) {
            return warmUp(run, options);
        }
        offsets.restartEvery(options.count());
        try {
            return warmUp(run, options);
        } finally {
            offsets.restartEvery(0); // the measured run writes from the first offset
        }
    }

    private static Result warmUp(BenchRun run, BenchOptions options) {
        if (options.warmup() > 0) {
            BenchRun.Measurement m = run.run(options.warmup(), Long.MAX_VALUE, options.depth(), ProgressLine.none());
            return new Result(m.requests(), m.requests(), m.wallNanos(), false);
        }
        long start = System.nanoTime();
        int depth = (int) Math.min(options.depth(), options.count());
        Result wide = untilJitQuiet(run, run.slots(), MIN_NS, MAX_NS);
        if (depth >= run.slots()) {
            return new Result(wide.requests(), wide.requests(), wide.nanos(), wide.jitQuiet());
        }
        if (run.failure() != 0 || run.crash() != null) {
            return wide;
        }
        // Then at the run's own depth: a shallow queue takes paths a deep one rarely does (the loop blocks and
        // polls after every request), and their first calls compile code, customise method handles and allocate.
        Result own = untilJitQuiet(run, depth, QUIET_NS, MAX_OWN_DEPTH_NS);
        return new Result(wide.requests() + own.requests(), own.requests(), System.nanoTime() - start,
                own.jitQuiet());
    }

    /**
     * Slices of {@link #SLICE_NS} at {@code depth} until the JIT compiler has been quiet for {@link #QUIET_NS},
     * after at least {@code minNs} and at most {@code maxNs}, or until a request failed.
     */
    private static Result untilJitQuiet(BenchRun run, int depth, long minNs, long maxNs) {
        CompilationMXBean jit = ManagementFactory.getCompilationMXBean();
        boolean monitored = jit != null && jit.isCompilationTimeMonitoringSupported();
        long start = System.nanoTime();
        long requests = 0;
        long lastJitMillis = monitored ? jit.getTotalCompilationTime() : 0;
        long quietSince = start;
        while (true) {
            BenchRun.Measurement m = run.run(Long.MAX_VALUE, SLICE_NS, depth, ProgressLine.none());
            requests += m.requests();
            long now = System.nanoTime();
            if (run.failure() != 0 || run.crash() != null) {
                return new Result(requests, 0, now - start, false);
            }
            long jitMillis = monitored ? jit.getTotalCompilationTime() : 0;
            if (jitMillis != lastJitMillis) {
                lastJitMillis = jitMillis;
                quietSince = now;
            }
            boolean quiet = now - quietSince >= QUIET_NS;
            if (now - start >= minNs && (quiet || !monitored) || now - start >= maxNs) {
                return new Result(requests, 0, now - start, quiet);
            }
        }
    }
}
