package io.blockloop.cli.io;

import io.blockloop.block.IoVector;

import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * The arguments of {@code readv} and {@code aio_read} ({@code [-Cqv] [-P pattern] off len [len..]}) and what both
 * print once their read is done: the {@code -P} check, the {@code -v} dump and the report. The two commands differ
 * only in whether they wait for the read. Called on the command's thread.
 */
record VectoredRead(boolean csv, boolean quiet, boolean verbose, boolean patternGiven, int pattern, long offset,
                    long[] lengths) {

    static VectoredRead parse(Synopsis synopsis, String typed, List<String> args) throws ArgumentError {
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
                default -> throw ArgumentError.usage(synopsis, options.error());
            }
        }
        List<String> operands = options.operands();
        if (operands.size() < 2) {
            throw ArgumentError.usage(synopsis, null);
        }
        long offset = CommandArguments.number(operands.getFirst());
        long[] lengths = CommandArguments.vectorLengths(operands.subList(1, operands.size()));
        return new VectoredRead(csv, quiet, verbose, patternGiven, pattern, offset, lengths);
    }

    /** Checks and reports a completed read of {@code qiov} (backed by {@code buffer}); returns whether it passed. */
    boolean report(IoSession session, MemorySegment buffer, IoVector qiov, long nanos) {
        boolean ok = !patternGiven || PatternCheck.verify(session.out(), buffer, offset, 0, buffer.byteSize(), pattern);
        if (!quiet) {
            if (verbose) {
                HexDump.print(session.out(), buffer, offset);
            }
            IoReport.print(session.out(), "read", nanos, offset, qiov.size(), qiov.size(), 1, csv);
        }
        return ok;
    }
}
