package io.blockloop.cli;

import io.blockloop.cli.bench.BenchCommand;
import io.blockloop.cli.io.IoCommand;

import io.blockloop.ffm.libc.Poll;

import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * The {@code blockloop} command: dispatches to a subcommand and turns failures into one line and an exit
 * status (2 for usage mistakes, 1 for runtime failures). Runs on the JVM's main thread.
 */
public final class BlockLoopCommand {
    static final String USAGE = """
            usage: blockloop COMMAND [ARGS]
              bench [OPTIONS] [FILE]  qemu-img bench: I/O throughput and latency on FILE (default: a 1 GiB temporary image)
              io [OPTIONS] -c CMD ... FILE   qemu-io: run read/write/flush/... commands on FILE
              probe [--json] [PATH]   what this machine offers BlockLoop; with PATH, its size, block sizes and O_DIRECT alignment
              help                    this text""";

    private static final String COMMANDS = "bench, io, probe, help";

    private BlockLoopCommand() {
    }

    /**
     * The status of a command whose output went into a pipe nobody reads any more ({@code blockloop io ... | head
     * -1}): 128 + SIGPIPE, what a shell reports for a C tool killed by the signal. The JVM ignores SIGPIPE, so the
     * write failed instead and the command ended with a message and status 1, noise for {@code | head}.
     */
    static final int BROKEN_PIPE = 128 + 13;

    public static void main(String[] args) {
        System.exit(run(List.of(args), System.out, System.err));
    }

    /**
     * Whether fd 1 is a pipe (or socket) whose reading end is closed: {@code poll} reports {@code POLLERR} for it,
     * and {@code POLLOUT} for a file or {@code /dev/full}, whose write errors still get the message.
     */
    private static boolean readerOfStandardOutputGone() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment fds = arena.allocate(Poll.POLLFD_SIZE);
            Poll.set(fds, 0, 1, Poll.POLLOUT);
            return Poll.poll(fds, 1, 0) == 1 && (Poll.revents(fds, 0) & Poll.POLLERR) != 0;
        } catch (RuntimeException e) {
            return false;
        }
    }

    /** Runs one command line; returns the exit status. */
    static int run(List<String> args, PrintStream out, PrintStream err) {
        if (args.isEmpty()) {
            err.println("blockloop: no command given (commands: " + COMMANDS + "; see blockloop help)");
            return CommandFailure.USAGE;
        }
        List<String> rest = args.subList(1, args.size());
        try {
            switch (args.getFirst()) {
                case "bench" -> new BenchCommand(out, err).run(rest);
                case "io" -> new IoCommand(out, err).run(rest);
                case "probe" -> new ProbeCommand(out).run(rest);
                case "help", "-h", "--help" -> out.println(USAGE);
                default -> throw CommandFailure.usage("unknown command '" + args.getFirst()
                        + "' (commands: " + COMMANDS + ")");
            }
            if (out.checkError()) { // PrintStream keeps write errors to itself (a full disk, a closed pipe)
                if (out == System.out && readerOfStandardOutputGone()) {
                    return BROKEN_PIPE; // silently, as a C tool would end
                }
                err.println("blockloop: could not write the output (standard output failed)");
                return CommandFailure.RUNTIME;
            }
            return 0;
        } catch (CommandFailure f) {
            err.println("blockloop: " + f.getMessage());
            return f.exitStatus();
        } catch (RuntimeException e) {
            // A failure we did not anticipate still ends in one line; BLOCKLOOP_DEBUG=1 shows the trace.
            err.println("blockloop: " + e.getMessage());
            if (System.getenv("BLOCKLOOP_DEBUG") != null) {
                e.printStackTrace(err);
            }
            return CommandFailure.RUNTIME;
        } catch (OutOfMemoryError e) {
            err.println("blockloop: out of memory: " + e.getMessage() + " (smaller buffers may help)");
            return CommandFailure.RUNTIME;
        }
    }
}
