package io.blockloop.cli.io;

import io.blockloop.block.BlockIoException;
import io.blockloop.block.RequestFlags;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * {@code write [-Cfnquz] [-P pattern] off len}: a synchronous write of a buffer filled with the pattern (0xcd by
 * default); {@code -f} FUA; {@code -z} writes zeroes without a buffer, {@code -u} then lets the range be
 * unmapped and {@code -n} forbids the slow fallback of writing zeroed buffers.
 *
 * <p>Threads: the main loop's thread, as every {@link IoSubcommand}.
 */
final class WriteCommand implements IoSubcommand {
    static final Synopsis SYNOPSIS = new Synopsis("write", "w", 2, -1, "[-Cfnquz] [-P pattern] off len",
            "writes a number of bytes at a specified offset", true);

    @Override
    public Synopsis synopsis() {
        return SYNOPSIS;
    }

    @Override
    public boolean run(IoSession session, String typed, List<String> args) throws ArgumentError {
        boolean csv = false;
        boolean quiet = false;
        boolean patternGiven = false;
        boolean zeroes = false;
        int flags = 0;
        int pattern = 0xcd;
        OptionScanner options = new OptionScanner(typed, args, "CfnpP:quz");
        for (int c = options.next(); c != OptionScanner.END; c = options.next()) {
            switch (c) {
                case 'C' -> csv = true;
                case 'f' -> flags |= RequestFlags.FUA;
                case 'n' -> flags |= RequestFlags.NO_FALLBACK;
                case 'p' -> {
                    // ignored, as in qemu-io
                }
                case 'P' -> {
                    patternGiven = true;
                    pattern = CommandArguments.pattern(options.argument());
                }
                case 'q' -> quiet = true;
                case 'u' -> flags |= RequestFlags.MAY_UNMAP;
                case 'z' -> zeroes = true;
                default -> throw ArgumentError.usage(SYNOPSIS, options.error());
            }
        }
        List<String> operands = options.operands();
        if (operands.size() != 2) {
            throw ArgumentError.usage(SYNOPSIS, null);
        }
        if ((flags & RequestFlags.NO_FALLBACK) != 0 && !zeroes) {
            throw new ArgumentError("-n requires -z to be specified");
        }
        if ((flags & RequestFlags.MAY_UNMAP) != 0 && !zeroes) {
            throw new ArgumentError("-u requires -z to be specified");
        }
        if (zeroes && patternGiven) {
            throw new ArgumentError("Only one of -z, -P, and -s can be specified at the same time");
        }
        long offset = CommandArguments.number(operands.get(0));
        long count = (flags & RequestFlags.NO_FALLBACK) != 0 ? CommandArguments.number(operands.get(1))
                : CommandArguments.length(operands.get(1), " without -n");
        try (Arena arena = Arena.ofShared()) {
            MemorySegment buffer = zeroes ? null : session.allocate(arena, count, pattern);
            long t1 = System.nanoTime();
            try {
                if (zeroes) {
                    session.backend().writeZeroes(offset, count, flags);
                } else {
                    session.backend().write(offset, buffer, flags);
                }
            } catch (BlockIoException e) {
                session.out().println("write failed: " + IoSession.strerror(e));
                return false;
            }
            long t2 = System.nanoTime();
            if (!quiet) {
                IoReport.print(session.out(), "wrote", t2 - t1, offset, count, count, 1, csv);
            }
            return true;
        }
    }
}
