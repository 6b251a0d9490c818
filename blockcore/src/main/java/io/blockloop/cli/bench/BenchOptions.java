package io.blockloop.cli.bench;

import io.blockloop.aio.PollParams;
import io.blockloop.block.BlockNode;
import io.blockloop.cli.ByteCount;
import io.blockloop.cli.CommandFailure;
import io.blockloop.cli.ImageArguments;
import io.blockloop.cli.LongOptionNames;
import io.blockloop.cli.PatternByte;
import io.blockloop.fdmon.FdMonitorKind;
import io.blockloop.ffm.libc.CpuAffinity;

import java.util.List;

/**
 * The command line of {@code blockloop bench}, parsed and checked: {@code qemu-img bench}'s flags and defaults
 * (count 75000, depth 64, size 4096, step = size, offset 0, reads unless {@code -w}, pattern 0, no flushes) plus
 * {@code --random}, {@code --seed}, {@code --fdmon}, {@code --poll-max-ns}, {@code --loop-cpu}, {@code --warmup},
 * {@code --no-register-buffers} and {@code --json}.
 * Short options may be glued to their value ({@code -c100}) or grouped ({@code -wU}); long options take
 * {@code --opt=VALUE} or {@code --opt VALUE}; {@code --} ends the options.
 *
 * <p>Immutable value; any thread.
 *
 * @param count   {@code -c}: requests to complete (1 to {@code INT_MAX})
 * @param depth   {@code -d}: requests in flight at once (1 to {@code INT_MAX})
 * @param size    {@code -s}: bytes per request (1 to {@code INT_MAX}; suffixes k, M, G ...)
 * @param step    {@code -S}: bytes between consecutive offsets (1 to {@code INT_MAX}); {@code size} by default
 *                or when given as 0 ({@code qemu-img bench}'s {@code step ?: bufsize})
 * @param offset  {@code -o}: the first offset
 * @param write   {@code -w}: write instead of read
 * @param random  {@code --random}: offsets {@code offset + k * step}, k uniform, instead of walking k = 0, 1, 2 ...
 * @param seed    {@code --seed}: of the random offsets (default 1), so runs repeat
 * @param pattern {@code --pattern}: the byte the buffers are filled with (0 to 255)
 * @param image   {@code -f -t -i -n -U}; opened read-only unless {@code -w}, as {@code qemu-img bench} does
 * @param fdmon   {@code --fdmon}: the main loop's fd monitor (poll, epoll, io_uring, auto)
 * @param pollMaxNs {@code --poll-max-ns}: adaptive busy polling of the main loop, at most this many ns per wait
 *                (QEMU's {@code poll-max-ns}; 0: off; default {@link #pollMaxNsDefault()})
 * @param loopCpu {@code --loop-cpu}: the CPU the main loop's thread is pinned to for the run, {@link #LOOP_CPU_CURRENT}
 *                for the one it runs on when the run starts, {@link #LOOP_CPU_NONE} (the default) for no pinning
 * @param json    {@code --json}: one JSON object instead of text
 * @param warmup  {@code --warmup}: requests run (same depth, pattern and offset sequence) before the measured ones,
 *                so the JIT has compiled the request path; {@link #WARMUP_DEFAULT}: until the JIT is quiet
 *                ({@link Warmup}); 0: none (qemu-img's way)
 * @param registerBuffers whether the buffers are registered with the block layer, as {@code qemu-img bench} does
 *                ({@code blk_register_buf}; io_uring then uses them as fixed buffers); {@code --no-register-buffers}
 *                turns it off
 * @param flushInterval {@code --flush-interval}: a flush after every this many writes (at least DEPTH; writes
 *                only); 0: no flushes
 * @param drainOnFlush whether the writes in flight complete before a flush starts, and none is issued until it
 *                ends (the default); {@code --no-drain}: the flush runs beside the writes ({@link FlushSchedule})
 * @param quiet   {@code -q}: no warnings from opening the image (an engine that falls back) and no progress line;
 *                the results are printed as always, as with {@code qemu-img bench -q}
 * @param file    the image, or (for {@code -f null}) the null device's size; null: the default target
 */
public record BenchOptions(int count, int depth, int size, int step, long offset, boolean write, boolean random,
                           long seed, int pattern, ImageArguments image, FdMonitorKind fdmon, long pollMaxNs, int loopCpu,
                           boolean json, int warmup, boolean registerBuffers, int flushInterval,
                           boolean drainOnFlush, boolean quiet, String file) {
    static final String USAGE = """
            usage: blockloop bench [-c COUNT] [-d DEPTH] [-s SIZE] [-S STEP] [-o OFFSET] [-w] [--random] [--seed N]
                                   [--pattern=BYTE] [--flush-interval=N] [--no-drain] [-t CACHE] [-i AIO] [-n] [-q] [-U]
                                   [--fdmon MON] [--poll-max-ns NS] [-f FMT] [--loop-cpu CPU] [--warmup COUNT]
                                   [--no-register-buffers] [--json] [FILE]
              -c COUNT      requests to complete (75000)
              -d DEPTH      requests in flight (64)
              -s SIZE       bytes per request (4096; suffixes k M G)
              -S STEP       bytes between offsets (SIZE)
              -o OFFSET     first offset (0)
              -w            write instead of read
              --random      random offsets OFFSET + k*STEP (uniform, seeded) instead of sequential ones
              --seed N      seed of --random (1)
              --pattern=B   byte the buffers hold (0; 0x.. hexadecimal, 0.. octal, as qemu-img)
              --flush-interval=N  with -w: flush after every N writes (N at least DEPTH; default: never); the
                            writes in flight complete first and no new one starts until the flush has ended
              --no-drain    with --flush-interval: flush beside the writes in flight, without waiting for them
              -t CACHE      none (default: O_DIRECT), writeback, writethrough, directsync, unsafe
              -i AIO        io_uring, native, threads, auto (default)
              -n            same as -i native
              -q            quiet: no warning from opening the image (an engine that falls back to threads) and
                            no progress line; the results are printed as always
              -U, --force-share  open even if another process uses the image (read benchmarks only)
              --fdmon MON   fd monitor of the main loop: poll, epoll, io_uring, auto (default); epoll runs as
                            poll until 64 fds are watched, as in QEMU, and the report names the one in use
              --poll-max-ns NS  busy-poll the main loop for up to NS ns before it blocks, adaptively
                            (default: as an IOThread, 32768 with 2 CPUs or more; 0: off, as qemu-img bench)
              --loop-cpu CPU  pin the main loop's thread to CPU (a number, or 'current': the CPU it runs on)
                            for the run; default: not pinned
              -f FMT        raw (default), file, or null (or null-co; FILE is then the device size, default 1G)
              --warmup N    requests run before the measured ones, not measured (default: at depth
                            max(DEPTH, 32) until the JIT compiler is quiet, 0.5 to 5 s, then at DEPTH if
                            lower, 0.3 to 2 s; 0: none, as qemu-img)
              --no-register-buffers  do not register the buffers with the block layer (qemu-img bench
                            does; with io_uring they become fixed buffers, pinned once instead of per request)
              --json        print one JSON object
              FILE          image file or block device; without it a 1 GiB preallocated image is created in the
                            temporary directory ($TMPDIR, else /tmp) and removed afterwards""";

    /** {@link #warmup()} when not given: until the JIT compiler is quiet ({@link Warmup}). */
    static final int WARMUP_DEFAULT = -1;

    /** {@link #loopCpu()} when not given: the loop's thread is not pinned. */
    static final int LOOP_CPU_NONE = -1;

    /** {@link #loopCpu()} for {@code --loop-cpu current}: the CPU the loop's thread runs on when the run starts. */
    static final int LOOP_CPU_CURRENT = -2;

    /**
     * {@link #pollMaxNs()} when not given: what an {@link io.blockloop.aio.IOThread} polls by default (QEMU's 32 µs
     * with two CPUs or more, off with one), since BlockLoop's I/O runs in IOThreads. {@code qemu-img bench} runs
     * in QEMU's main loop, which never polls: {@code --poll-max-ns 0} measures that.
     */
    static long pollMaxNsDefault() {
        return PollParams.ioThreadDefault().maxNs();
    }

    /** Largest count, depth, size and step, as {@code qemu-img bench} ({@code INT_MAX}). */
    static final long INT_MAX = Integer.MAX_VALUE;

    /** The options of {@code args}; null when {@code -h}/{@code --help} asked for the usage text. */
    public static BenchOptions parse(List<String> args) throws CommandFailure {
        Parser p = new Parser(args);
        return p.parse();
    }

    /** When the writes are flushed ({@code --flush-interval}); null when they are not. */
    FlushSchedule flushSchedule() {
        return flushInterval == 0 ? null : new FlushSchedule(flushInterval, drainOnFlush);
    }

    /** Whether no FILE was given and the default target is used. */
    public boolean defaultTarget() {
        return file == null && !image.format().equals("null");
    }

    /** The walk of offsets over an image of {@code imageSize} bytes. */
    OffsetSequence offsets(long imageSize) {
        return random ? OffsetSequence.random(offset, step, size, imageSize, seed)
                : OffsetSequence.sequential(offset, step, size, imageSize);
    }

    /** The getopt-like walk over the arguments. Not thread-safe; one per parse. */
    private static final class Parser {
        /** Every long option of the switch in {@link #longOption}: what an abbreviation may stand for. */
        private static final List<String> LONG_OPTIONS = List.of("--help", "--random", "--json", "--seed", "--pattern",
                "--fdmon", "--poll-max-ns", "--loop-cpu", "--warmup", "--force-share", "--no-register-buffers",
                "--flush-interval", "--no-drain");
        private final List<String> args;
        private int next;
        private int count = 75000;
        private int depth = 64;
        private int size = 4096;
        private int step = -1;
        private long offset;
        private boolean write;
        private boolean random;
        private long seed = 1;
        private int pattern;
        private ImageArguments image = ImageArguments.defaults();
        private FdMonitorKind fdmon = FdMonitorKind.AUTO;
        private long pollMaxNs = pollMaxNsDefault();
        private int loopCpu = LOOP_CPU_NONE;
        private boolean json;
        private int warmup = WARMUP_DEFAULT;
        private boolean registerBuffers = true;
        private int flushInterval;
        private boolean drainOnFlush = true;
        private boolean quiet;
        private String file;

        Parser(List<String> args) {
            this.args = args;
        }

        BenchOptions parse() throws CommandFailure {
            boolean optionsEnded = false;
            while (next < args.size()) {
                String arg = args.get(next++);
                if (!optionsEnded && arg.equals("--")) {
                    optionsEnded = true;
                } else if (!optionsEnded && arg.startsWith("--")) {
                    if (!longOption(arg)) {
                        return null;
                    }
                } else if (!optionsEnded && arg.startsWith("-") && arg.length() > 1) {
                    if (!shortOptions(arg)) {
                        return null;
                    }
                } else if (file == null) {
                    file = arg;
                } else {
                    throw CommandFailure.usage("bench: expecting one image file name, got '" + file + "' and '"
                            + arg + "'");
                }
            }
            if (image.format().equals("null") && file == null) {
                file = "1G";
            }
            if (image.format().equals("null") && file != null) {
                ImageArguments.nullDeviceSize("bench", file); // a usage mistake, reported before anything runs
            }
            if (flushInterval != 0 && !write) {
                throw CommandFailure.usage("bench: --flush-interval is only available in write tests (-w)");
            }
            if (flushInterval != 0 && flushInterval < depth) {
                throw CommandFailure.usage("bench: the flush interval can't be smaller than the depth"
                        + " (--flush-interval " + flushInterval + ", -d " + depth + ")");
            }
            if (!drainOnFlush && flushInterval == 0) {
                throw CommandFailure.usage("bench: --no-drain needs a flush interval"
                        + " (--flush-interval=N, N at least 1)");
            }
            if (write && image.forceShare()) {
                throw CommandFailure.usage("bench: -U (force-share) needs a read-only image, and -w opens it for "
                        + "writing (a read benchmark opens it read-only)");
            }
            return new BenchOptions(count, depth, size, step <= 0 ? size : step, offset, write, random, seed, pattern,
                    image.withReadOnly(!write), fdmon, pollMaxNs, loopCpu, json, warmup, registerBuffers, flushInterval,
                    drainOnFlush, quiet, file);
        }

        /** One {@code --name[=value]}, the name or an unambiguous prefix of it (getopt_long); false for --help. */
        private boolean longOption(String arg) throws CommandFailure {
            int eq = arg.indexOf('=');
            String name = longName(eq < 0 ? arg : arg.substring(0, eq));
            String inline = eq < 0 ? null : arg.substring(eq + 1);
            switch (name) {
                case "--help" -> {
                    flag(name, inline); // refuses "--help=x", as every flag refuses a value
                    return false;
                }
                case "--random" -> random = flag(name, inline);
                case "--json" -> json = flag(name, inline);
                case "--seed" -> seed = count("seed", value(name, inline), 0, Long.MAX_VALUE);
                case "--pattern" -> pattern = patternByte(value(name, inline));
                case "--fdmon" -> {
                    String v = value(name, inline);
                    try {
                        fdmon = FdMonitorKind.parse(v);
                    } catch (IllegalArgumentException e) {
                        throw CommandFailure.usage("bench: " + e.getMessage());
                    }
                }
                case "--poll-max-ns" -> pollMaxNs = count("poll-max-ns", value(name, inline), 0, 1_000_000_000L);
                case "--loop-cpu" -> {
                    String v = value(name, inline);
                    loopCpu = v.equals("current") ? LOOP_CPU_CURRENT
                            : (int) count("loop CPU", v, 0, CpuAffinity.CPU_SETSIZE - 1);
                }
                case "--warmup" -> warmup = (int) count("warm-up count", value(name, inline), 0, INT_MAX);
                case "--force-share" -> image = image.withForceShare(flag(name, inline));
                case "--no-register-buffers" -> registerBuffers = !flag(name, inline);
                case "--flush-interval" -> flushInterval = (int) count("flush interval", value(name, inline), 0,
                        INT_MAX);
                case "--no-drain" -> drainOnFlush = !flag(name, inline);
                default -> throw CommandFailure.usage("bench: unknown option '" + name + "' (see blockloop bench --help)");
            }
            return true;
        }

        /** A group of short options ({@code -wU}, {@code -c100}); false for {@code -h}. */
        private boolean shortOptions(String arg) throws CommandFailure {
            for (int i = 1; i < arg.length(); i++) {
                char c = arg.charAt(i);
                switch (c) {
                    case 'h' -> {
                        return false;
                    }
                    case 'w' -> write = true;
                    case 'n' -> image = image.withAio("native");
                    case 'q' -> quiet = true;
                    case 'U' -> image = image.withForceShare(true);
                    case 'c', 'd', 's', 'S', 'o', 't', 'i', 'f' -> {
                        String v;
                        if (i + 1 < arg.length()) {
                            v = arg.substring(i + 1);
                        } else if (next < args.size()) {
                            v = args.get(next++);
                        } else {
                            throw CommandFailure.usage("bench: option '-" + c + "' needs a value");
                        }
                        valued(c, v);
                        return true;
                    }
                    default -> throw CommandFailure.usage("bench: unknown option '-" + c
                            + "' (see blockloop bench --help)");
                }
            }
            return true;
        }

        private void valued(char option, String v) throws CommandFailure {
            switch (option) {
                case 'c' -> count = (int) count("request count", v, 1, INT_MAX);
                case 'd' -> depth = (int) count("queue depth", v, 1, INT_MAX);
                // The block layer's largest request: above it every request failed, after the warm-up had run.
                case 's' -> size = (int) bytes("buffer size", v, 1, BlockNode.MAX_REQUEST_BYTES);
                case 'S' -> step = (int) bytes("step size", v, 0, INT_MAX); // 0: the size, as qemu-img
                case 'o' -> offset = bytes("offset", v, 0, Long.MAX_VALUE);
                case 't', 'i', 'f' -> image = imageOption(option, v);
                default -> throw new AssertionError(option);
            }
        }

        /** {@code -t}, {@code -i} or {@code -f}; their mistakes are the image's, so they get this command's prefix. */
        private ImageArguments imageOption(char option, String v) throws CommandFailure {
            try {
                return switch (option) {
                    case 't' -> image.withCache(v);
                    case 'i' -> image.withAio(v);
                    default -> image.withFormat(v);
                };
            } catch (CommandFailure f) {
                throw CommandFailure.usage("bench: " + f.getMessage());
            }
        }

        /** {@code given} itself, or the only long option it abbreviates; left as it is when it names none. */
        private static String longName(String given) throws CommandFailure {
            if (given.length() <= 2) {
                return given; // "--" alone would abbreviate every option
            }
            List<String> candidates = LongOptionNames.matching(given, LONG_OPTIONS);
            if (candidates.size() > 1) {
                throw CommandFailure.usage("bench: option '" + given + "' is ambiguous; possibilities: '"
                        + String.join("' '", candidates) + "'");
            }
            return candidates.isEmpty() ? given : candidates.getFirst();
        }

        private String value(String name, String inline) throws CommandFailure {
            if (inline != null) {
                return inline;
            }
            if (next < args.size()) {
                return args.get(next++);
            }
            throw CommandFailure.usage("bench: option '" + name + "' needs a value");
        }

        private static boolean flag(String name, String inline) throws CommandFailure {
            if (inline != null) {
                throw CommandFailure.usage("bench: option '" + name + "' takes no value");
            }
            return true;
        }

        /**
         * A count in {@code [min, max]}: suffixes allowed, as qemu's {@code cvtnum}, but a fraction must come out
         * whole ({@link ByteCount#parseWhole}); {@code what} names it.
         */
        private static long count(String what, String text, long min, long max) throws CommandFailure {
            return within(what, text, ByteCount.parseWhole("bench: " + what, text), min, max);
        }

        /**
         * {@code --pattern} as qemu-img reads it ({@code qemu_strtoul(text, NULL, 0)}): {@code 0x} hexadecimal, a
         * leading {@code 0} octal, so {@code 010} is 8, as in {@code io -P}. Until session 26 it was read as a
         * decimal count, and {@code --pattern=010} wrote 0x0a where qemu-img writes 0x08.
         */
        private static int patternByte(String text) throws CommandFailure {
            int value = text.isBlank() ? -1 : PatternByte.parse(text);
            if (value < 0) {
                throw CommandFailure.usage("bench: pattern: not a byte from 0 to 255 (0x... hexadecimal, 0... octal)"
                        + " -- " + (text.isEmpty() ? "''" : text));
            }
            return value;
        }

        /** A byte count or offset in {@code [min, max]}, read as qemu's {@code cvtnum} reads it. */
        private static long bytes(String what, String text, long min, long max) throws CommandFailure {
            return within(what, text, ByteCount.parse("bench: " + what, text), min, max);
        }

        private static long within(String what, String text, long value, long min, long max) throws CommandFailure {
            if (value < min) {
                throw CommandFailure.usage("bench: " + what + ": must be at least " + min + " -- " + text);
            }
            if (value > max) {
                throw CommandFailure.usage("bench: " + what + ": must be at most " + max + " -- " + text);
            }
            return value;
        }
    }
}
