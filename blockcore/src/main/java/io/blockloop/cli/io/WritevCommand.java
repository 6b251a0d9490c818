package io.blockloop.cli.io;

import io.blockloop.block.BlockIoException;
import io.blockloop.block.IoVector;
import io.blockloop.block.RequestFlags;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * {@code writev [-Cfq] [-P pattern] off len [len..]}: a vectored write, one buffer segment per length, all
 * filled with the pattern (0xcd by default), waiting for it; {@code -f} FUA.
 *
 * <p>Threads: the main loop's thread, as every {@link IoSubcommand}.
 */
final class WritevCommand implements IoSubcommand {
    static final Synopsis SYNOPSIS = new Synopsis("writev", null, 2, -1, "[-Cfq] [-P pattern] off len [len..]",
            "writes a number of bytes at a specified offset", true);

    @Override
    public Synopsis synopsis() {
        return SYNOPSIS;
    }

    @Override
    public boolean run(IoSession session, String typed, List<String> args) throws ArgumentError {
        boolean csv = false;
        boolean quiet = false;
        int flags = 0;
        int pattern = 0xcd;
        OptionScanner options = new OptionScanner(typed, args, "CfqP:");
        for (int c = options.next(); c != OptionScanner.END; c = options.next()) {
            switch (c) {
                case 'C' -> csv = true;
                case 'f' -> flags |= RequestFlags.FUA;
                case 'q' -> quiet = true;
                case 'P' -> pattern = CommandArguments.pattern(options.argument());
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
            MemorySegment buffer = session.allocate(arena, CommandArguments.total(lengths), pattern);
            IoVector qiov = IoSession.vector(buffer, lengths);
            long t1 = System.nanoTime();
            try {
                session.backend().writev(offset, qiov, flags);
            } catch (BlockIoException e) {
                session.out().println("writev failed: " + IoSession.strerror(e));
                return false;
            }
            long t2 = System.nanoTime();
            if (!quiet) {
                IoReport.print(session.out(), "wrote", t2 - t1, offset, qiov.size(), qiov.size(), 1, csv);
            }
            return true;
        }
    }
}
