package io.blockloop.cli.bench;

import io.blockloop.aio.AioContext;
import io.blockloop.aio.PollingStats;
import io.blockloop.block.BlockIoException;
import io.blockloop.block.IoVector;
import io.blockloop.block.backend.BlockBackend;
import io.blockloop.coroutine.Coroutine;
import io.blockloop.ffm.errno.Errno;
import io.blockloop.ffm.libc.ProcessCpuClock;
import io.blockloop.ffm.memory.AlignedBuffer;

import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;

/**
 * The run loop of {@code blockloop bench}, {@code qemu-img bench}'s {@code bench_cb} turned into coroutines: one
 * worker coroutine per queue slot, each owning a preallocated aligned buffer (filled with the pattern) and a
 * one-segment {@link IoVector}, loops "take the next offset, issue the request, wait for it, record its latency"
 * until the phase's requests are all issued; the main loop is polled until every worker has finished. Offsets are
 * handed out in issue order from one {@link OffsetSequence}, so the sequence of offsets is qemu-img's.
 *
 * <p>With {@code --flush-interval} a {@link FlushSchedule} says when the workers' writes are flushed; each flush
 * runs in a coroutine of its own, so it never takes a worker's place.
 *
 * <p>Steady state allocates nothing: the per-request path is {@link OffsetSequence#next()},
 * {@link BlockBackend#coPreadv}/{@link BlockBackend#coPwritev} (0 or -errno, no exception), two
 * {@link System#nanoTime()} reads and {@link LatencyHistogram#record}.
 *
 * <p>Threads: the home thread of the backend's context, which must be the calling thread (the main loop); the
 * workers run there too, so the counters are plain fields.
 */
final class BenchRun implements AutoCloseable {
    /**
     * What one phase did: requests completed, wall time, process and main-thread CPU time, bytes allocated by the
     * main thread and by every thread, the main loop's busy polling, the latencies, and those of the flushes
     * ({@code --flush-interval}; null without it). The histograms are this run's: valid until the next phase.
     * Threads: the run's home thread, like the histograms it holds (not thread-safe).
     */
    record Measurement(long requests, long wallNanos, long cpuNanos, long mainThreadCpuNanos, long allocatedBytes,
                       long allocatedBytesAllThreads, PollingStats polling, LatencyHistogram latency,
                       LatencyHistogram flushLatency) {
    }

    /** The time limit of a phase that has none: 2^62 ns, so that {@code now + limit} cannot overflow. */
    private static final long NO_TIME_LIMIT_NS = Long.MAX_VALUE / 2;

    private final BlockBackend blk;
    private final AioContext ctx;
    private final boolean write;
    private final OffsetSequence offsets;
    private final AlignedBuffer buffers;
    /** Whether {@link #registerBuffers()} registered the buffers with the backend. */
    private boolean registered;
    private final Worker[] workers;
    private final LatencyHistogram histogram = new LatencyHistogram();
    /** {@code --flush-interval}: when the writes are flushed; null for none. */
    private final FlushSchedule flushes;
    private final LatencyHistogram flushHistogram;
    /** The body of every flush coroutine: one flush, timed (several may run at once with --no-drain). */
    private final Runnable flush = this::flushOnce;

    // ---- phase state (home thread) ----
    private long target;
    private long issued;
    private long completed;
    private int running;
    /** The first failed request's negative errno, or 0. */
    private int failure;
    private long failedOffset;
    /** Whether the first failed request was a flush. */
    private boolean failedFlush;
    private Throwable crash;
    private ProgressLine progress = ProgressLine.none();
    /**
     * When to stop issuing ({@link System#nanoTime()}). A phase without a time limit gets one 146 years away
     * instead of a "none" value, so that every phase takes the same branches in {@link Worker#run()}: a branch the
     * warm-up never took, taken by the measured run, made the JIT throw the workers' compiled loop away as the
     * measured run began (an uncommon trap), and slow devices then measured it interpreted.
     */
    private long deadlineNs;

    /**
     * Prepares {@code slots} workers with buffers of {@code size} bytes filled with {@code pattern}, aligned for
     * the backend's memory alignment (at least 4 KiB). Home thread.
     */
    BenchRun(BlockBackend blk, int slots, int size, int pattern, boolean write, OffsetSequence offsets) {
        this(blk, slots, size, pattern, write, offsets, null);
    }

    /** The same, with writes flushed as {@code flushes} says (null: never). Home thread. */
    BenchRun(BlockBackend blk, int slots, int size, int pattern, boolean write, OffsetSequence offsets,
             FlushSchedule flushes) {
        if (flushes != null && !write) {
            throw new IllegalArgumentException("flushes follow writes: a read run has none");
        }
        this.flushes = flushes;
        this.flushHistogram = flushes == null ? null : new LatencyHistogram();
        this.blk = blk;
        this.ctx = blk.context();
        this.write = write;
        this.offsets = offsets;
        long align = Math.max(4096, blk.root().limits().memoryAlignment());
        long stride = (size + align - 1) & -align;
        this.buffers = AlignedBuffer.allocate(stride * slots, align);
        this.workers = new Worker[slots];
        MemorySegment all = buffers.segment();
        all.fill((byte) pattern);
        for (int i = 0; i < slots; i++) {
            workers[i] = new Worker(new IoVector(1).add(all.asSlice(i * stride, size)));
        }
    }

    /**
     * Runs {@code count} requests (continuing the offset sequence) and measures them, showing {@code progress}.
     * Home thread of the backend's context.
     */
    Measurement run(long count, ProgressLine progress) {
        return run(count, Long.MAX_VALUE, workers.length, progress);
    }

    /**
     * {@link #run(long, ProgressLine)} with {@code depth} workers (at most the slots prepared) that stops issuing
     * requests once {@code maxNanos} have passed (the requests in flight then complete and count). Home thread of
     * the backend's context.
     */
    Measurement run(long count, long maxNanos, int depth, ProgressLine progress) {
        this.progress = progress;
        this.deadlineNs = System.nanoTime() + Math.min(maxNanos, NO_TIME_LIMIT_NS);
        target = count;
        issued = 0;
        completed = 0;
        failure = 0;
        failedFlush = false;
        crash = null;
        histogram.reset();
        if (flushes != null) {
            flushes.reset();
            flushHistogram.reset();
        }
        Coroutine[] coroutines = new Coroutine[(int) Math.min(Math.min(workers.length, depth), count)];
        for (int i = 0; i < coroutines.length; i++) {
            coroutines[i] = Coroutine.create(workers[i]);
        }
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        // The process clock to the nanosecond; the OperatingSystemMXBean's counts 10 ms ticks (ProcessCpuClock).
        long cpu0 = ProcessCpuClock.nanos();
        long mainCpu0 = threads.getCurrentThreadCpuTime();
        long allThreads0 = threads.getTotalThreadAllocatedBytes();
        long allocated0 = threads.getCurrentThreadAllocatedBytes();
        PollingStats polling0 = ctx.pollingStats();
        long start = System.nanoTime();
        progress.start();
        running = coroutines.length;
        for (Coroutine co : coroutines) {
            co.enter();
        }
        while (running > 0) {
            ctx.poll(true);
        }
        long wall = System.nanoTime() - start;
        PollingStats polling = ctx.pollingStats().since(polling0);
        long allocated = threads.getCurrentThreadAllocatedBytes() - allocated0;
        long allThreads = threads.getTotalThreadAllocatedBytes() - allThreads0;
        long mainCpu = threads.getCurrentThreadCpuTime() - mainCpu0;
        long cpu = ProcessCpuClock.nanos() - cpu0; // read last, as it was read first: its window holds the thread's
        progress.clear();
        return new Measurement(completed, wall, cpu, mainCpu, allocated, allThreads, polling, histogram,
                flushHistogram);
    }

    /** The number of queue slots (workers) prepared. */
    int slots() {
        return workers.length;
    }

    /** The negative errno of the first failed request of the last phase, or 0. */
    int failure() {
        return failure;
    }

    /** The offset of the first failed request. */
    long failedOffset() {
        return failedOffset;
    }

    /** Whether the first failed request was a flush ({@link #failedOffset()} is then 0). */
    boolean failedFlush() {
        return failedFlush;
    }

    /** An exception a worker threw (a bug, not an I/O error), or null. */
    Throwable crash() {
        return crash;
    }

    /**
     * Registers the buffers with the backend, as {@code qemu-img bench} does ({@link BlockBackend#registerBuffer});
     * returns whether some node took them. Home thread, before {@link #run}.
     */
    boolean registerBuffers() {
        registered = blk.registerBuffer(buffers.segment());
        return registered;
    }

    /** Unregisters and frees the buffers. Home thread, after {@link #run} returned (nothing in flight). */
    @Override
    public void close() {
        try {
            if (registered) {
                registered = false;
                blk.unregisterBuffer(buffers.segment());
            }
        } finally {
            buffers.close();
        }
    }

    /**
     * One queue slot: its vector, and the loop that keeps one request of the slot in flight. Runs as a coroutine
     * on the run's home thread (see the class comment), so it shares the run's plain fields.
     */
    private final class Worker implements Runnable {
        private final IoVector qiov;

        Worker(IoVector qiov) {
            this.qiov = qiov;
        }

        @Override
        public void run() {
            try {
                // The time of this worker's last completion: the deadline is checked against it before every
                // request, at no cost (the latency needs the clock anyway). Checked every 64 requests, as before
                // session 26, a slice of 100 ms issued at least 64 requests per worker, whatever their size: the
                // default warm-up of a 1 GiB request took 128 of them, minutes on a slow disk.
                long lastDone = System.nanoTime();
                while (issued < target && failure == 0) {
                    if (flushes != null && flushes.holdsWrites()) {
                        flushes.awaitBarrier(); // a drained flush is due or running
                        lastDone = System.nanoTime();
                        continue;
                    }
                    if (issued != 0 && lastDone - deadlineNs > 0) {
                        target = issued; // time is up: every worker stops issuing
                        break;
                    }
                    long offset = offsets.next();
                    issued++;
                    boolean flushesAfter = flushes != null && flushes.writeIssued(issued);
                    long t0 = System.nanoTime();
                    int ret = write ? blk.coPwritev(offset, qiov, 0) : blk.coPreadv(offset, qiov, 0);
                    long t1 = System.nanoTime();
                    lastDone = t1;
                    if (ret < 0) {
                        fail(ret, offset, false); // before the flush schedule hears of it: no flush after a failure
                    }
                    if (flushes != null && flushes.writeCompleted(flushesAfter)) {
                        startFlush();
                    }
                    if (ret < 0) {
                        break;
                    }
                    histogram.record(t1 - t0);
                    if ((++completed & 255) == 0) {
                        progress.update(completed);
                    }
                }
            } catch (RuntimeException | Error e) {
                crashed(e);
            } finally {
                running--;
            }
        }
    }

    /** Records the phase's first failure. */
    private void fail(int negativeErrno, long offset, boolean flush) {
        if (failure == 0) {
            failure = negativeErrno;
            failedOffset = offset;
            failedFlush = flush;
        }
    }

    /** A worker or flush coroutine threw (a bug, not an I/O error): the phase fails, and nobody waits any more. */
    private void crashed(Throwable e) {
        if (crash == null) {
            crash = e;
        }
        if (failure == 0) {
            failure = -Errno.EIO;
        }
        if (flushes != null) {
            flushes.abandon();
        }
    }

    /** Starts a flush coroutine, which the phase waits for like a worker; after a failure, only lifts the barrier. */
    private void startFlush() {
        if (failure != 0) {
            flushes.flushEnded();
            return;
        }
        running++;
        Coroutine.create(flush).enter();
    }

    /** One flush, timed. Runs as a coroutine on the home thread. */
    private void flushOnce() {
        try {
            long t0 = System.nanoTime();
            int ret = 0;
            try {
                blk.coFlush();
            } catch (BlockIoException e) {
                ret = -e.errno();
            }
            long t1 = System.nanoTime();
            if (ret < 0) {
                fail(ret, 0, true);
            } else {
                flushHistogram.record(t1 - t0);
            }
            flushes.flushEnded();
        } catch (RuntimeException | Error e) {
            crashed(e);
        } finally {
            running--;
        }
    }
}
