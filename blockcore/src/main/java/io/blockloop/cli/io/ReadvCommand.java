package io.blockloop.cli.io;

import io.blockloop.block.BlockIoException;
import io.blockloop.block.IoVector;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * {@code readv [-Cqv] [-P pattern] off len [len..]}: a vectored read, one buffer segment per length, waiting for
 * it; {@code -P} checks the whole data.
 */
final class ReadvCommand implements IoSubcommand {
    static final Synopsis SYNOPSIS = new Synopsis("readv", null, 2, -1, "[-Cqv] [-P pattern] off len [len..]",
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
        int pattern = 0;
        OptionScanner options = new OptionScanner(typed, args, "CP:qv");
        for (int c = options.next(); c != OptionScanner.END; c = options.next()) {
            switch (c) {
                case 'C' -> csv = true;
                case 'P' -> {
                    patternGiven = true;
                    pattern = CommandArguments.pattern(options.argument());
                }
                case 'q' -> quiet = true;
                case 'v' -> verbose = true;
                default -> throw ArgumentError.usage(SYNOPSIS, options.error());
            }
        }
        List<String> operands = options.operands();
        if (operands.size() < 2) {
            throw ArgumentError.usage(SYNOPSIS, null);
        }
        long offset = CommandArguments.number(operands.getFirst());
        long[] lengths = CommandArguments.vectorLengths(operands.subList(1, operands.size()));
        try (Arena arena = Arena.ofShared()) {
            MemorySegment buffer = session.allocate(arena, CommandArguments.total(lengths), 0xab);
            IoVector qiov = IoSession.vector(buffer, lengths);
            long t1 = System.nanoTime();
            try {
                session.backend().readv(offset, qiov);
            } catch (BlockIoException e) {
                session.out().println("readv failed: " + IoSession.strerror(e));
                return false;
            }
            long t2 = System.nanoTime();
            boolean ok = !patternGiven
                    || PatternCheck.verify(session.out(), buffer, offset, 0, buffer.byteSize(), pattern);
            if (!quiet) {
                if (verbose) {
                    HexDump.print(session.out(), buffer, offset);
                }
                IoReport.print(session.out(), "read", t2 - t1, offset, qiov.size(), qiov.size(), 1, csv);
            }
            return ok;
        }
    }
}
