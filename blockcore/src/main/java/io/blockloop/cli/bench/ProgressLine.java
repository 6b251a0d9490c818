package io.blockloop.cli.bench;

import io.blockloop.ffm.libc.FileIo;

import java.io.PrintStream;
import java.util.Locale;
import java.util.function.LongSupplier;

/**
 * The progress line of a run on a terminal: nothing during the first second, then every half second the requests
 * done, the share of the total and the IOPS of the last interval, rewritten in place with a carriage return, and
 * erased when the run ends. {@link #update} is cheap when it does not print (a clock read at most), so the run
 * loop may call it often; printing allocates, about twice a second.
 *
 * <p>Threads: the main loop's thread only.
 */
final class ProgressLine {
    private static final int STDERR_FD = 2;
    private static final long FIRST_NS = 1_000_000_000L;
    private static final long EVERY_NS = 500_000_000L;

    private final PrintStream out;
    private final boolean enabled;
    private final long total;
    private final LongSupplier clock;
    private long nextNs;
    private long lastNs;
    private long lastDone;
    private int width;

    ProgressLine(PrintStream out, boolean enabled, long total) {
        this(out, enabled, total, System::nanoTime);
    }

    /** With its own clock (nanoseconds; tests). */
    ProgressLine(PrintStream out, boolean enabled, long total, LongSupplier clock) {
        this.out = out;
        this.enabled = enabled;
        this.total = total;
        this.clock = clock;
    }

    /**
     * A line on {@code out} when it is the process's standard error and that is a terminal, else a no-op: a
     * redirected stderr keeps only the messages. ({@link System#console()} would answer for stdin and stdout.)
     */
    static ProgressLine forTerminal(PrintStream out, long total) {
        return new ProgressLine(out, out == System.err && FileIo.isTerminal(STDERR_FD), total);
    }

    /** A progress line that never prints. */
    static ProgressLine none() {
        return new ProgressLine(null, false, 0);
    }

    /** The measured run starts now. */
    void start() {
        long nowNs = clock.getAsLong();
        nextNs = nowNs + FIRST_NS;
        lastNs = nowNs;
        lastDone = 0;
    }

    /** {@code done} requests have completed; prints if the time has come. */
    void update(long done) {
        if (!enabled) {
            return;
        }
        long now = clock.getAsLong();
        if (now - nextNs < 0) {
            return;
        }
        double iops = (done - lastDone) * 1e9 / Math.max(1, now - lastNs);
        String line = String.format(Locale.ROOT, "%d/%d requests (%d%%), %.0f IOPS", done, total,
                total == 0 ? 100 : done * 100 / total, iops);
        out.print("\r" + line + " ".repeat(Math.max(0, width - line.length())));
        out.flush();
        width = Math.max(width, line.length());
        lastNs = now;
        lastDone = done;
        nextNs = now + EVERY_NS;
    }

    /** Erases the line if one was printed. */
    void clear() {
        if (enabled && width > 0) {
            out.print("\r" + " ".repeat(width) + "\r");
            out.flush();
            width = 0;
        }
    }

    /** Whether something was ever printed and not yet erased (for tests). */
    boolean showing() {
        return width > 0;
    }
}
