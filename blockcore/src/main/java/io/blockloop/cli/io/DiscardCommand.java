package io.blockloop.cli.io;

import io.blockloop.block.BlockIoException;

import java.util.List;

/**
 * {@code discard [-Cq] off len}: discards a range; reported as {@code discard N/N bytes at offset O}.
 *
 * <p>Threads: the main loop's thread, as every {@link IoSubcommand}.
 */
final class DiscardCommand implements IoSubcommand {
    static final Synopsis SYNOPSIS = new Synopsis("discard", "d", 2, -1, "[-Cq] off len",
            "discards a number of bytes at a specified offset", true);

    @Override
    public Synopsis synopsis() {
        return SYNOPSIS;
    }

    @Override
    public boolean run(IoSession session, String typed, List<String> args) throws ArgumentError {
        boolean csv = false;
        boolean quiet = false;
        OptionScanner options = new OptionScanner(typed, args, "Cq");
        for (int c = options.next(); c != OptionScanner.END; c = options.next()) {
            switch (c) {
                case 'C' -> csv = true;
                case 'q' -> quiet = true;
                default -> throw ArgumentError.usage(SYNOPSIS, options.error());
            }
        }
        List<String> operands = options.operands();
        if (operands.size() != 2) {
            throw ArgumentError.usage(SYNOPSIS, null);
        }
        long offset = CommandArguments.number(operands.get(0));
        long bytes = CommandArguments.length(operands.get(1));
        long t1 = System.nanoTime();
        try {
            session.backend().discard(offset, bytes);
        } catch (BlockIoException e) {
            session.out().println("discard failed: " + IoSession.strerror(e));
            return false;
        }
        long t2 = System.nanoTime();
        if (!quiet) {
            IoReport.print(session.out(), "discard", t2 - t1, offset, bytes, bytes, 1, csv);
        }
        return true;
    }
}
