package io.blockloop.cli.io;

import io.blockloop.block.BlockIoException;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * {@code read [-Cqv] [-P pattern [-s off] [-l len]] off len}: a synchronous read into a buffer pre-filled with
 * 0xab; {@code -P} checks that bytes {@code [s, s + l)} of it (all by default) are the pattern, {@code -v} dumps
 * it, {@code -q} prints nothing but errors, {@code -C} reports as CSV, {@code -p} is accepted and ignored.
 *
 * <p>Threads: the main loop's thread, as every {@link IoSubcommand}.
 */
final class ReadCommand implements IoSubcommand {
    static final Synopsis SYNOPSIS = new Synopsis("read", "r", 2, -1, "[-Cqv] [-P pattern [-s off] [-l len]] off len",
            "reads a number of bytes at a specified offset", false);

    @Override
    public Synopsis synopsis() {
        return SYNOPSIS;
    }

    @Override
    public boolean run(IoSession session, String typed, List<String> args) throws ArgumentError {
        boolean csv = false;
        boolean quiet = false;
        boolean verbose = false;
        boolean patternGiven = false;
        boolean startGiven = false;
        boolean lengthGiven = false;
        int pattern = 0;
        long patternOffset = 0;
        long patternCount = 0;
        OptionScanner options = new OptionScanner(typed, args, "Cl:pP:qs:v");
        for (int c = options.next(); c != OptionScanner.END; c = options.next()) {
            switch (c) {
                case 'C' -> csv = true;
                case 'l' -> {
                    lengthGiven = true;
                    patternCount = CommandArguments.number(options.argument());
                }
                case 'p' -> {
                    // ignored, as in qemu-io
                }
                case 'P' -> {
                    patternGiven = true;
                    pattern = CommandArguments.pattern(options.argument());
                }
                case 'q' -> quiet = true;
                case 's' -> {
                    startGiven = true;
                    patternOffset = CommandArguments.number(options.argument());
                }
                case 'v' -> verbose = true;
                default -> throw ArgumentError.usage(SYNOPSIS, options.error());
            }
        }
        List<String> operands = options.operands();
        if (operands.size() != 2) {
            throw ArgumentError.usage(SYNOPSIS, null);
        }
        long offset = CommandArguments.number(operands.get(0));
        long count = CommandArguments.length(operands.get(1));
        if (!patternGiven && (lengthGiven || startGiven)) {
            throw ArgumentError.usage(SYNOPSIS, null);
        }
        if (!lengthGiven) {
            patternCount = count - patternOffset;
        }
        // Compared without a sum: -s and -l near Long.MAX_VALUE overflowed it and got past the check.
        if (patternOffset < 0 || patternCount < 0 || patternOffset > count || patternCount > count - patternOffset) {
            throw new ArgumentError("pattern verification range exceeds end of read data");
        }
        try (Arena arena = Arena.ofShared()) {
            MemorySegment buffer = session.allocate(arena, count, 0xab);
            long t1 = System.nanoTime();
            try {
                session.backend().read(offset, buffer);
            } catch (BlockIoException e) {
                session.out().println("read failed: " + IoSession.strerror(e));
                return false;
            }
            long t2 = System.nanoTime();
            boolean ok = !patternGiven
                    || PatternCheck.verify(session.out(), buffer, offset, patternOffset, patternCount, pattern);
            if (!quiet) {
                if (verbose) {
                    HexDump.print(session.out(), buffer, offset);
                }
                IoReport.print(session.out(), "read", t2 - t1, offset, count, count, 1, csv);
            }
            return ok;
        }
    }
}
