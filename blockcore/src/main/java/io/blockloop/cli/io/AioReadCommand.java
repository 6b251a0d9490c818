package io.blockloop.cli.io;

import io.blockloop.block.IoVector;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * {@code aio_read [-Cqv] [-P pattern] off len [len..]}: issues a vectored read and returns at once; when it
 * completes (while a later command waits, at {@code aio_flush}, or at the end) its report is printed, after the
 * {@code -P} check and the {@code -v} dump. A failed read prints {@code readv failed: ...} (qemu-io's words).
 */
final class AioReadCommand implements IoSubcommand {
    static final Synopsis SYNOPSIS = new Synopsis("aio_read", null, 2, -1, "[-Cqv] [-P pattern] off len [len..]",
            "asynchronously reads a number of bytes", false);

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
        Arena arena = Arena.ofShared();
        MemorySegment buffer = session.allocate(arena, CommandArguments.total(lengths), 0xab);
        IoVector qiov = IoSession.vector(buffer, lengths);
        boolean check = patternGiven;
        int expected = pattern;
        boolean printReport = !quiet;
        boolean dump = verbose;
        boolean asCsv = csv;
        long t1 = System.nanoTime();
        session.track(session.backend().readvAsync(offset, qiov), arena, failure -> {
            long t2 = System.nanoTime();
            if (failure != null) {
                session.out().println("readv failed: " + IoSession.strerror(failure));
                return false;
            }
            boolean ok = !check || PatternCheck.verify(session.out(), buffer, offset, 0, buffer.byteSize(), expected);
            if (printReport) {
                if (dump) {
                    HexDump.print(session.out(), buffer, offset);
                }
                IoReport.print(session.out(), "read", t2 - t1, offset, qiov.size(), qiov.size(), 1, asCsv);
            }
            return ok;
        });
        return true;
    }
}
