package io.blockloop.cli.io;

import io.blockloop.aio.AioContext;
import io.blockloop.aio.MainLoop;
import io.blockloop.block.backend.BlockBackend;
import io.blockloop.cli.CommandFailure;
import io.blockloop.fdmon.FdMonitorKind;

import java.io.PrintStream;
import java.util.List;

/**
 * {@code blockloop io [-f FMT] [-t CACHE] [-i AIO] [-n] [-r] [-U] [-m] -c CMD ... FILE}: qemu-io's command
 * runner. Opens FILE, runs every {@code -c} command in order with qemu-io's output ({@code read}, {@code write},
 * {@code readv}, {@code writev}, {@code aio_read}, {@code aio_write}, {@code aio_flush}, {@code flush},
 * {@code discard}, {@code length}, {@code info}, {@code help}), continuing after a failed one, waits for
 * outstanding asynchronous requests, and closes the image. Ends with a failure (exit status 1) when any
 * command failed, a pattern check included; a bad command line is a usage failure (exit status 2).
 *
 * <p>Threads: runs on the calling thread, which becomes the main loop for the run (or already is it); the
 * image's nodes live in the main context, as in qemu-io.
 */
public final class IoCommand {
    private final PrintStream out;
    private final PrintStream err;

    public IoCommand(PrintStream out, PrintStream err) {
        this.out = out;
        this.err = err;
    }

    public void run(List<String> args) throws CommandFailure {
        IoOptions options = IoOptions.parse(args);
        if (options == null) {
            out.println(IoOptions.USAGE);
            return;
        }
        AioContext existing = MainLoop.context();
        if (existing != null && !existing.inHomeThread()) {
            throw CommandFailure.runtime("io: the main loop already runs on thread '"
                    + existing.homeThread().getName() + "'");
        }
        AioContext main = existing != null ? existing : MainLoop.init(FdMonitorKind.AUTO);
        try {
            int failed = runScript(options, main);
            if (failed > 0) {
                throw CommandFailure.runtime("io: " + failed + " of " + options.commands().size()
                        + (options.commands().size() == 1 ? " command" : " commands") + " failed");
            }
        } finally {
            if (existing == null) {
                main.close();
            }
        }
    }

    /** Opens the image, runs the commands, waits for the asynchronous ones; returns how many failed. */
    private int runScript(IoOptions options, AioContext main) throws CommandFailure {
        BlockBackend backend = options.image().open("io", options.file(), main);
        IoSession session = new IoSession(backend, out, err, options.misalign());
        int failed = 0;
        try {
            CommandTable table = new CommandTable();
            for (String line : options.commands()) {
                if (!table.execute(session, line)) {
                    failed++;
                }
            }
            session.drainAsync();
        } finally {
            backend.close();
        }
        return failed + session.failedCompletions();
    }
}
