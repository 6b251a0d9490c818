package io.blockloop.cli.bench;

import io.blockloop.aio.AioContext;
import io.blockloop.aio.MainLoop;
import io.blockloop.block.BlockChild;
import io.blockloop.block.BlockNode;
import io.blockloop.block.Warnings;
import io.blockloop.block.backend.BlockBackend;
import io.blockloop.block.file.FileDriver;
import io.blockloop.block.raw.RawDriver;
import io.blockloop.cli.CommandFailure;
import io.blockloop.ffm.errno.Errno;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Consumer;

/**
 * {@code blockloop bench} ({@code qemu-img bench} plus random offsets and measurements): runs COUNT reads or
 * writes of SIZE bytes, DEPTH at a time, on FILE (or on the {@linkplain DefaultTarget default target}) and prints
 * qemu-img's lines, IOPS, MiB/s, latency percentiles, CPU time, the engine and fd monitor, and the bytes allocated
 * per request ({@link BenchReport}). The main loop runs on the calling thread ({@link MainLoop#init}); the image is
 * opened in it; {@link BenchRun} drives the requests from coroutines there.
 *
 * <p>Failures: a usage mistake is a {@link CommandFailure#usage} (exit 2), an image that cannot be opened or a
 * request that fails ("Failed request: Input/output error ...") a {@link CommandFailure#runtime} (exit 1). The
 * default target is removed whatever happens.
 *
 * <p>Threads: call {@link #run} on the thread that is to be the main loop (the JVM's main thread for the CLI);
 * if that thread already runs the main loop, the command uses it and leaves it open.
 */
public final class BenchCommand {
    private final PrintStream out;
    private final PrintStream err;
    private final Path tempDir;

    public BenchCommand(PrintStream out, PrintStream err) {
        this(out, err, temporaryDirectory(System.getenv("TMPDIR")));
    }

    /**
     * Where the default target goes: {@code $TMPDIR} when set, as qemu-img and the other tools of the system
     * decide, else {@code java.io.tmpdir} (which the JVM sets to /tmp whatever TMPDIR says).
     */
    static Path temporaryDirectory(String tmpdirVariable) {
        return tmpdirVariable != null && !tmpdirVariable.isBlank() ? Path.of(tmpdirVariable)
                : Path.of(System.getProperty("java.io.tmpdir"));
    }

    /** With the directory for the default target (tests). */
    BenchCommand(PrintStream out, PrintStream err, Path tempDir) {
        this.out = out;
        this.err = err;
        this.tempDir = tempDir;
    }

    public void run(List<String> args) throws CommandFailure {
        BenchOptions options = BenchOptions.parse(args);
        if (options == null) {
            out.println(BenchOptions.USAGE);
            return;
        }
        // -q: the block layer's warnings (one line each, on stderr) are dropped while the command runs.
        Consumer<String> warningsBefore = options.quiet() ? Warnings.redirect(line -> {
        }) : null;
        try {
            run(options);
        } finally {
            if (warningsBefore != null) {
                Warnings.redirect(warningsBefore);
            }
        }
    }

    private void run(BenchOptions options) throws CommandFailure {
        AioContext existing = MainLoop.context();
        boolean ownLoop = existing == null || !existing.inHomeThread();
        AioContext ctx;
        try {
            ctx = ownLoop ? MainLoop.init(options.fdmon()) : existing;
        } catch (IllegalStateException e) {
            throw CommandFailure.runtime("bench: cannot start the main loop: " + e.getMessage());
        }
        DefaultTarget target = null;
        try {
            if (ownLoop) {
                ctx.setPollParams(options.pollMaxNs(), 0, 0);
            }
            String file = options.file();
            if (options.defaultTarget()) {
                target = DefaultTarget.create(tempDir);
                file = target.path().toString();
                if (!options.json()) {
                    out.println(BenchReport.defaultTargetLine(target));
                }
            }
            try (BlockBackend blk = options.image().open("bench", file, ctx)) {
                if (target != null) {
                    target.remove(); // the open descriptor keeps the data: nothing is left behind even on a kill
                }
                bench(options, blk, file, ctx);
            }
        } finally {
            if (target != null) {
                target.remove();
            }
            if (ownLoop) {
                ctx.close();
            }
        }
    }

    private void bench(BenchOptions o, BlockBackend blk, String file, AioContext ctx) throws CommandFailure {
        long imageSize = blk.length();
        if (o.offset() > imageSize - o.size()) {
            throw CommandFailure.runtime("bench: a " + o.size() + "-byte request at offset " + o.offset()
                    + " is past the end of '" + file + "' (" + imageSize + " bytes)");
        }
        OffsetSequence offsets = o.offsets(imageSize);
        int slots = Warmup.slots(o);
        FileDriver fileDriver = fileDriverOf(blk.root());
        String engine = fileDriver == null ? "none" : fileDriver.engineMode().option();
        boolean direct = fileDriver != null && fileDriver.direct();
        BenchRun buffersReady;
        try {
            buffersReady = new BenchRun(blk, slots, o.size(), o.pattern(), o.write(), offsets, o.flushSchedule());
        } catch (OutOfMemoryError e) {
            throw CommandFailure.runtime("bench: cannot allocate " + slots + " buffers of " + o.size()
                    + " bytes (one per request in flight): " + e.getMessage());
        }
        try (BenchRun run = buffersReady;
             LoopPin pin = LoopPin.apply(o.loopCpu())) {
            boolean registered = o.registerBuffers() && run.registerBuffers();
            Warmup.Result warmup = Warmup.run(run, offsets, o);
            if (warmup != null) {
                checkFailure(o, run);
                if (!o.json()) {
                    out.println(BenchReport.warmupLine(warmup));
                }
            }
            if (!o.json()) {
                out.println(BenchReport.sendingLine(o, offsets.highest(), offsets.upcoming()));
                if (o.flushInterval() != 0) {
                    out.println(BenchReport.flushLine(o));
                }
            }
            BenchRun.Measurement m = run.run(o.count(), Long.MAX_VALUE, o.depth(),
                    o.quiet() ? ProgressLine.none() : ProgressLine.forTerminal(err, o.count()));
            checkFailure(o, run);
            BenchReport report = new BenchReport(o, file, imageSize, engine, direct, registered, ctx.monitorName(),
                    pin.cpu(), ctx.pollParams().maxNs(), offsets.highest(), warmup, m);
            if (o.json()) {
                out.println(report.json());
            } else {
                report.printText(out);
            }
        }
    }

    /** Throws what ends the command when the last phase of {@code run} failed. */
    static void checkFailure(BenchOptions o, BenchRun run) throws CommandFailure {
        if (run.crash() instanceof Error e) {
            throw e;
        }
        if (run.crash() instanceof RuntimeException e) {
            throw e;
        }
        if (run.failure() != 0) {
            throw CommandFailure.runtime("Failed request: " + Errno.text(-run.failure()) + " (" + (run.failedFlush()
                    ? "flush" : (o.write() ? "write" : "read") + " of " + o.size() + " bytes at offset "
                    + run.failedOffset()) + ")");
        }
    }

    /** The file node under {@code node} (through raw), or null (the null driver). */
    static FileDriver fileDriverOf(BlockNode node) {
        if (node.driver() instanceof FileDriver f) {
            return f;
        }
        if (node.driver() instanceof RawDriver raw) {
            return fileDriverOf(raw.file().node());
        }
        for (BlockChild child : node.children()) {
            FileDriver f = fileDriverOf(child.node());
            if (f != null) {
                return f;
            }
        }
        return null;
    }
}
