package io.blockloop.engine.bench;

import io.blockloop.engine.CompletionHandler;
import io.blockloop.fdmon.FdNode;
import io.blockloop.fdmon.IoUringFdMonitor;
import io.blockloop.fdmon.ReadySink;
import io.blockloop.ffm.libc.CpuAffinity;
import io.blockloop.ffm.libc.EventFd;
import io.blockloop.engine.IoEngine;
import io.blockloop.engine.IoUringEngine;
import io.blockloop.engine.LinuxAioEngine;
import io.blockloop.engine.ThreadPoolEngine;
import io.blockloop.ffm.errno.Errno;
import io.blockloop.ffm.libc.BlockDevice;
import io.blockloop.ffm.libc.FileIo;
import io.blockloop.ffm.libc.OpenFlags;
import io.blockloop.ffm.libc.ProcessCpuClock;
import io.blockloop.ffm.memory.AlignedBuffer;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * End-to-end engine driver compared with fio, cell by cell, in one run: 4 KiB random reads and writes at queue
 * depth 1 and 32, on a loop device over a sparse file (CPU-bound: reads of holes never touch the disk) and over a
 * fully written file (device-bound), each BlockLoop engine against fio with the matching engine (io_uring,
 * libaio, psync with {@code numjobs} = queue depth). Prints one table with IOPS, the ratio engine / fio of the means,
 * the lowest and highest ratio of a single round (fio and the engine alternate, so each round pairs them), the
 * mean of the rounds' ratios with its 95 % confidence interval ({@link RoundRatios}), and the engine's CPU time per
 * request ({@link EngineRun}).
 *
 * <p>Each BlockLoop engine runs alone, without an event loop: {@code qd} requests are submitted, and the
 * completion handler (called inside {@link IoEngine#awaitCompletions}) submits the next random request for the
 * same buffer, so the engine batches the resubmissions of one reaping pass into one submission.
 *
 * <p>Usage (see {@code linux-aio/bench/engines-vs-fio.sh}, which sets up the loop devices):
 * {@code EngineDriver --sparse /dev/loopA --full /dev/loopB [--rounds 3] [--seconds 1] [--ramp 0.25]
 * [--engines io_uring,io_uring-deferred,linux-aio,threads,io_uring-loop-ring,java-psync] [--rw randread,randwrite]
 * [--qd 1,32] [--no-fio] [--await-ns N] [--pin-owner] [--max-spin-ns N] [--pool-max-threads N]}.
 * {@code io_uring} is
 * {@link IoUringEngine#open(int, Duration)} (the ring an event loop can watch), {@code io_uring-deferred}
 * {@link IoUringEngine#openDeferred(int, Duration)} (the ring for a thread that only awaits, set up as fio sets up
 * its own). {@code io_uring-loop-ring} is io_uring on an fd monitor's ring driven as an event loop drives it
 * ({@link #LOOP_RING}); {@code java-psync} is fio psync's shape in Java, without an engine ({@link #DIRECT_THREADS}).
 * Neither of these two is in the default list.
 * Each cell runs {@code rounds} alternating pairs (fio, then the engine), so drifts of a shared machine hit both;
 * the IOPS shown are the means. Before every run on the sparse device it is discarded ({@code blkdiscard}), so
 * every run, ours or fio's, starts from the same all-hole file.
 *
 * <p>Threads: the main thread owns each engine; fio runs as a child process. {@code java-psync} runs its
 * {@code qd} threads, which share only the fd and a phase flag, and joins them before it returns.
 */
public final class EngineDriver {
    private static final int BLOCK = 4096;
    /** How long one awaitCompletions call may block ({@code --await-ns}; negative: no timeout). */
    private static long awaitNanos = 100_000_000L;
    /**
     * {@code --max-spin-ns}: every engine's spin in {@code awaitCompletions} for its only request, and the pool
     * workers' spin for the next request (0: never spin; the engines sleep at once, as QEMU's pool and fio do).
     */
    private static Duration maxSpin = ThreadPoolEngine.DEFAULT_MAX_SPIN;
    /** {@code --pool-max-threads}: the pool's largest number of workers (QEMU's 64 by default). */
    private static int poolMaxThreads = ThreadPoolEngine.DEFAULT_MAX_THREADS;
    /** {@code --fixed-buffers}: register the buffers with the engine (io_uring's fixed buffers). */
    private static boolean fixedBuffers;

    private EngineDriver() {
    }

    private record Cell(String device, String path, boolean discard, String engine, boolean write, int qd) {
    }

    /**
     * Mean IOPS of the rounds, the engine's mean CPU time per request in microseconds, and the engine/fio ratios of
     * the single rounds (none without fio).
     */
    private record Result(Cell cell, double engineIops, double fioIops, double engineCpuMicros, RoundRatios ratios) {
    }

    /**
     * One measured engine run: requests per second, and the JVM's CPU time per request in microseconds (every
     * thread's user and system time over the measured interval, {@link ProcessCpuClock}: the owner, the pool's
     * workers, and the JIT and GC threads, which are quiet after the warm-up).
     */
    private record EngineRun(double iops, double cpuMicrosPerRequest) {
        static EngineRun measured(long requests, long wallNanos, long cpuNanos) {
            return new EngineRun(requests * 1e9 / wallNanos, requests == 0 ? Double.NaN : cpuNanos / 1e3 / requests);
        }
    }

    public static void main(String[] args) throws Exception {
        String sparse = null;
        String full = null;
        double seconds = 1;
        double ramp = 0.25;
        int rounds = 3;
        boolean withFio = true;
        boolean pinOwner = false;
        List<String> engines = List.of("io_uring", "io_uring-deferred", "linux-aio", "threads");
        List<String> rws = List.of("randread", "randwrite");
        List<Integer> depths = List.of(1, 32);
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--sparse" -> sparse = args[++i];
                case "--full" -> full = args[++i];
                case "--seconds" -> seconds = Double.parseDouble(args[++i]);
                case "--ramp" -> ramp = Double.parseDouble(args[++i]);
                case "--rounds" -> rounds = Integer.parseInt(args[++i]);
                case "--no-fio" -> withFio = false;
                case "--engines" -> engines = List.of(args[++i].split(","));
                case "--rw" -> rws = List.of(args[++i].split(","));
                case "--await-ns" -> awaitNanos = Long.parseLong(args[++i]);
                case "--qd" -> depths = List.of(args[++i].split(",")).stream().map(Integer::valueOf).toList();
                case "--pin-owner" -> pinOwner = true;
                case "--max-spin-ns" -> maxSpin = Duration.ofNanos(Long.parseLong(args[++i]));
                case "--pool-max-threads" -> poolMaxThreads = Integer.parseInt(args[++i]);
                case "--fixed-buffers" -> fixedBuffers = true;
                default -> {
                    System.err.println("usage: EngineDriver --sparse DEV --full DEV [--seconds S] [--ramp S]"
                            + " [--rounds N] [--engines io_uring,linux-aio,threads] [--rw randread,randwrite]"
                            + " [--qd 1,32] [--pin-owner] [--max-spin-ns N] [--pool-max-threads N] [--fixed-buffers]");
                    System.exit(2);
                }
            }
        }
        if (sparse == null && full == null) {
            System.err.println("EngineDriver: give --sparse and/or --full loop devices");
            System.exit(2);
        }
        List<Cell> cells = new ArrayList<>();
        String[][] devices = {{"sparse", sparse}, {"full", full}};
        for (String[] dev : devices) {
            if (dev[1] == null) {
                continue;
            }
            for (String rw : rws) {
                for (int qd : depths) {
                    for (String engine : engines) {
                        cells.add(new Cell(dev[0], dev[1], dev[0].equals("sparse"), engine, rw.equals("randwrite"), qd));
                    }
                }
            }
        }
        if (pinOwner) {
            // The engines' owner (this thread) stays on one CPU; pool workers, the kernel's threads and fio do not.
            int cpu = CpuAffinity.currentCpu();
            CpuAffinity.pinCurrentThread(cpu);
            System.out.println("==> engine owner thread pinned to CPU " + cpu);
        }
        // JIT warm-up of every engine's path before the first measured cell.
        String warm = sparse != null ? sparse : full;
        for (String engine : engines) {
            runEngine(new Cell("warm-up", warm, sparse != null, engine, false, 32), 0, 1);
            runEngine(new Cell("warm-up", warm, sparse != null, engine, false, 1), 0, 0.5);
        }
        System.out.println(header());
        List<Result> results = new ArrayList<>();
        for (Cell cell : cells) {
            // fio and the engine alternate, so slow drifts of the machine hit both alike; IOPS are the means.
            // Each round pairs them: the ratio of one round's engine to the same round's fio.
            double fio = 0;
            double ours = 0;
            double cpu = 0;
            RoundRatios ratios = new RoundRatios();
            for (int round = 0; round < rounds; round++) {
                double f = withFio ? runFio(cell, ramp, seconds) : Double.NaN;
                EngineRun e = runEngine(cell, ramp, seconds);
                fio += f / rounds;
                ours += e.iops() / rounds;
                cpu += e.cpuMicrosPerRequest() / rounds;
                ratios.add(e.iops() / f);
            }
            Result r = new Result(cell, ours, fio, cpu, ratios);
            results.add(r);
            System.out.println(row(r));
        }
        System.out.println();
        System.out.println("=== BlockLoop engines vs fio: 4 KiB random I/O, O_DIRECT, loop devices; per cell "
                + rounds + " alternating rounds of fio then engine, " + seconds + " s each after " + ramp
                + " s ramp; ratio: of the means; each round: the lowest and highest ratio of one round; each mean:"
                + " their mean +- the half-width of its 95 % confidence interval (Student's t); us/req: the engine's"
                + " CPU time per request (the JVM's threads, user and system) ===");
        System.out.println(header());
        for (Result r : results) {
            System.out.println(row(r));
        }
    }

    private static String header() {
        return String.format(Locale.ROOT, "%-7s %-10s %-3s %-17s %12s %12s %7s %11s %12s %7s", "device", "rw", "qd",
                "engine", "engine IOPS", "fio IOPS", "ratio", "each round", "each mean", "us/req");
    }

    private static String row(Result r) {
        Cell c = r.cell();
        return String.format(Locale.ROOT, "%-7s %-10s %-3d %-17s %12.0f %12.0f %6.2fx %11s %12s %7.1f", c.device(),
                c.write() ? "randwrite" : "randread", c.qd(), c.engine(), r.engineIops(), r.fioIops(),
                r.engineIops() / r.fioIops(), r.ratios().spread(), r.ratios().meanWithInterval(), r.engineCpuMicros());
    }

    private static String fioEngine(String engine) {
        return switch (engine) {
            case "io_uring", "io_uring-deferred", LOOP_RING, SHARED_RING -> "io_uring";
            case "linux-aio" -> "libaio";
            case "threads", DIRECT_THREADS -> "psync";
            default -> throw new IllegalArgumentException("unknown engine " + engine);
        };
    }

    private static double runFio(Cell cell, double ramp, double seconds) throws IOException, InterruptedException {
        discardIfSparse(cell);
        List<String> cmd = new ArrayList<>(List.of("fio", "--name=cell", "--filename=" + cell.path(), "--direct=1",
                "--bs=4k", "--rw=" + (cell.write() ? "randwrite" : "randread"), "--ioengine=" + fioEngine(cell.engine()),
                "--time_based", "--runtime=" + millis(seconds), "--ramp_time=" + millis(ramp), "--norandommap", "--randrepeat=0",
                "--output-format=terse", "--terse-version=3"));
        if (fioEngine(cell.engine()).equals("psync")) {
            cmd.addAll(List.of("--numjobs=" + cell.qd(), "--thread", "--group_reporting"));
        } else {
            cmd.add("--iodepth=" + cell.qd());
        }
        String out = run(cmd);
        String[] fields = out.trim().split(";");
        // terse v3: field 8 = read IOPS, field 49 = write IOPS (1-based)
        return Double.parseDouble(fields[cell.write() ? 48 : 7]);
    }

    private static String millis(double seconds) {
        return Math.round(seconds * 1000) + "ms";
    }

    private static void discardIfSparse(Cell cell) throws IOException, InterruptedException {
        if (cell.discard()) {
            run(List.of("blkdiscard", cell.path()));
        }
    }

    private static String run(List<String> cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IOException(String.join(" ", cmd) + " failed: " + new String(out, StandardCharsets.UTF_8));
        }
        return new String(out, StandardCharsets.UTF_8);
    }

    private static IoEngine open(String engine) {
        return switch (engine) {
            case "io_uring" -> IoUringEngine.open(IoUringEngine.DEFAULT_ENTRIES, maxSpin);
            case "io_uring-deferred" -> IoUringEngine.openDeferred(IoUringEngine.DEFAULT_ENTRIES, maxSpin);
            case "linux-aio" -> LinuxAioEngine.open(LinuxAioEngine.DEFAULT_MAX_EVENTS, LinuxAioEngine.DEFAULT_MAX_BATCH,
                    maxSpin);
            case "threads" -> ThreadPoolEngine.open(ThreadPoolEngine.DEFAULT_MIN_THREADS, poolMaxThreads,
                    ThreadPoolEngine.DEFAULT_IDLE_TIMEOUT, maxSpin);
            default -> throw new IllegalArgumentException("unknown engine " + engine);
        };
    }

    /**
     * io_uring on an fd monitor's ring, driven the way an event loop drives it: one monitor wait (which submits
     * and waits in one {@code io_uring_enter}), then the engine's {@code processCompletions} when the monitor
     * reports its ring fd; an eventfd stands for the loop's notifier, armed all the time. The event loop without
     * AioContext, coroutines or the block layer.
     */
    static final String LOOP_RING = "io_uring-loop-ring";
    /**
     * io_uring on an fd monitor's ring driven like the engine alone: {@code awaitCompletions}, which submits in one
     * {@code io_uring_enter} and waits in another ({@code SharedRing.awaitCompletions}).
     */
    static final String SHARED_RING = "io_uring-shared-ring";
    /**
     * Not an engine: {@code qd} Java platform threads that each call {@code pread}/{@code pwrite} through FFM in a
     * loop, fio {@code psync}'s shape without a hand-off. It separates what the JVM and FFM cost (this) from what
     * the thread pool's owner-to-worker hand-off costs ({@code threads} against this).
     */
    static final String DIRECT_THREADS = "java-psync";

    private static EngineRun runEngine(Cell cell, double ramp, double seconds)
            throws IOException, InterruptedException {
        if (cell.engine().equals(DIRECT_THREADS)) {
            return runDirectThreads(cell, ramp, seconds);
        }
        if (cell.engine().equals(SHARED_RING)) {
            try (IoUringFdMonitor monitor = IoUringFdMonitor.open()) {
                IoUringEngine engine = IoUringEngine.openShared(monitor::share);
                return runEngine(cell, ramp, seconds, engine, () -> engine.awaitCompletions(awaitNanos));
            }
        }
        if (cell.engine().equals(LOOP_RING)) {
            try (IoUringFdMonitor monitor = IoUringFdMonitor.open(); EventFd notifier = EventFd.create()) {
                IoUringEngine engine = IoUringEngine.openShared(monitor::share);
                FdNode ringNode = new FdNode(engine.completionFd(), FdNode.READ_EVENTS, "engine");
                monitor.update(null, ringNode);
                monitor.update(null, new FdNode(notifier.fd(), FdNode.READ_EVENTS, "notifier"));
                boolean[] engineReady = new boolean[1];
                ReadySink sink = (node, revents) -> engineReady[0] |= node == ringNode;
                return runEngine(cell, ramp, seconds, engine, () -> {
                    engineReady[0] = false;
                    monitor.wait(-1, sink, false);
                    if (engineReady[0]) {
                        engine.processCompletions();
                    }
                });
            }
        }
        try (IoEngine engine = open(cell.engine())) {
            return runEngine(cell, ramp, seconds, engine, () -> engine.awaitCompletions(awaitNanos));
        }
    }

    /** Runs the closed loop on {@code engine}, waiting with {@code waitOnce}; closes the engine at the end. */
    private static EngineRun runEngine(Cell cell, double ramp, double seconds, IoEngine engine, Runnable waitOnce)
            throws IOException, InterruptedException {
        discardIfSparse(cell);
        int fd = FileIo.open(cell.path(), OpenFlags.O_RDWR | OpenFlags.O_DIRECT | OpenFlags.O_CLOEXEC, 0);
        try (engine;
             AlignedBuffer buffers = AlignedBuffer.allocate((long) cell.qd() * BLOCK, BLOCK)) {
            long blocks = BlockDevice.size(fd) / BLOCK;
            if (fixedBuffers && !engine.registerBuffer(buffers.segment()) && engine instanceof IoUringEngine) {
                throw new IllegalStateException("the io_uring engine refused to register the buffers");
            }
            ClosedLoop loop = new ClosedLoop(engine, fd, buffers.segment(), cell.qd(), blocks, cell.write(), waitOnce);
            loop.start();
            long rampEnd = System.nanoTime() + (long) (ramp * 1e9);
            loop.runUntil(rampEnd);
            long c0 = loop.completed;
            long cpu0 = ProcessCpuClock.nanos();
            long t0 = System.nanoTime();
            loop.runUntil(t0 + (long) (seconds * 1e9));
            long c1 = loop.completed;
            long t1 = System.nanoTime();
            long cpu1 = ProcessCpuClock.nanos();
            loop.stop();
            return EngineRun.measured(c1 - c0, t1 - t0, cpu1 - cpu0);
        } finally {
            FileIo.close(fd);
        }
    }

    /**
     * {@link #DIRECT_THREADS}: {@code qd} threads, each with its own buffer and random sequence, calling the
     * blocking system call in a loop until told to stop; requests that end inside the measured interval count.
     */
    private static EngineRun runDirectThreads(Cell cell, double ramp, double seconds)
            throws IOException, InterruptedException {
        discardIfSparse(cell);
        int fd = FileIo.open(cell.path(), OpenFlags.O_RDWR | OpenFlags.O_DIRECT | OpenFlags.O_CLOEXEC, 0);
        try (AlignedBuffer buffers = AlignedBuffer.allocate((long) cell.qd() * BLOCK, BLOCK)) {
            long blocks = BlockDevice.size(fd) / BLOCK;
            // phase: 0 ramp, 1 measured, 2 stop. Volatile: the workers poll it between calls; no data passes.
            AtomicInteger phase = new AtomicInteger();
            AtomicReference<String> failure = new AtomicReference<>();
            long[] counted = new long[cell.qd()];
            Thread[] threads = new Thread[cell.qd()];
            for (int i = 0; i < threads.length; i++) {
                int slot = i;
                long address = buffers.segment().address() + (long) i * BLOCK;
                threads[i] = Thread.ofPlatform().daemon().start(() -> {
                    long x = 0x2545F4914F6CDD1DL ^ System.nanoTime() ^ ((long) slot << 32);
                    long n = 0;
                    int p;
                    while ((p = phase.get()) < 2) {
                        x ^= x << 13;
                        x ^= x >>> 7;
                        x ^= x << 17;
                        long offset = Long.remainderUnsigned(x, blocks) * BLOCK;
                        long ret = cell.write() ? FileIo.pwriteOrErrno(fd, address, BLOCK, offset)
                                : FileIo.preadOrErrno(fd, address, BLOCK, offset);
                        if (ret != BLOCK) {
                            failure.compareAndSet(null, "java-psync: I/O returned " + ret);
                            break;
                        }
                        if (p == 1 && phase.get() == 1) {
                            n++;
                        }
                    }
                    counted[slot] = n; // published by the join below
                });
            }
            Thread.sleep(Math.round(ramp * 1000));
            long cpu0 = ProcessCpuClock.nanos();
            long t0 = System.nanoTime();
            phase.set(1);
            Thread.sleep(Math.round(seconds * 1000));
            phase.set(2);
            long t1 = System.nanoTime();
            long cpu1 = ProcessCpuClock.nanos();
            long total = 0;
            for (int i = 0; i < threads.length; i++) {
                threads[i].join();
                total += counted[i];
            }
            if (failure.get() != null) {
                throw new IllegalStateException(failure.get());
            }
            return EngineRun.measured(total, t1 - t0, cpu1 - cpu0);
        } finally {
            FileIo.close(fd);
        }
    }

    /** Keeps {@code qd} requests in flight: each completion submits the next random request for its buffer. */
    private static final class ClosedLoop implements CompletionHandler {
        private final IoEngine engine;
        private final int fd;
        private final MemorySegment[] buffers;
        private final int qd;
        private final long blocks;
        private final boolean write;
        private final Runnable waitOnce;
        private long seed = 0x2545F4914F6CDD1DL ^ System.nanoTime();
        private boolean stopping;
        long completed;

        ClosedLoop(IoEngine engine, int fd, MemorySegment all, int qd, long blocks, boolean write, Runnable waitOnce) {
            this.engine = engine;
            this.waitOnce = waitOnce;
            this.fd = fd;
            this.qd = qd;
            this.blocks = blocks;
            this.write = write;
            this.buffers = new MemorySegment[qd];
            for (int i = 0; i < qd; i++) {
                buffers[i] = all.asSlice((long) i * BLOCK, BLOCK);
                for (int j = 0; j < BLOCK; j += 8) {
                    buffers[i].set(JAVA_LONG, j, next());
                }
            }
        }

        private long next() {
            long x = seed;
            x ^= x << 13;
            x ^= x >>> 7;
            x ^= x << 17;
            seed = x;
            return x;
        }

        private void submit(int slot) {
            long offset = Long.remainderUnsigned(next(), blocks) * BLOCK;
            if (write) {
                engine.write(fd, buffers[slot], offset, 0, this, slot);
            } else {
                engine.read(fd, buffers[slot], offset, this, slot);
            }
        }

        void start() {
            engine.plug();
            for (int i = 0; i < qd; i++) {
                submit(i);
            }
            engine.unplug();
        }

        void runUntil(long deadline) {
            while (System.nanoTime() < deadline) {
                waitOnce.run();
            }
        }

        void stop() {
            stopping = true;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (engine.outstanding() > 0 && System.nanoTime() < deadline) {
                waitOnce.run();
            }
        }

        @Override
        public void complete(long tag, long result) {
            if (result < 0) {
                throw new IllegalStateException(engine.name() + ": I/O failed with " + Errno.symbol((int) -result));
            }
            completed++;
            if (!stopping) {
                submit((int) tag);
            }
        }
    }
}
