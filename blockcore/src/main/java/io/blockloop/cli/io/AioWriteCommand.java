package io.blockloop.cli.io;

import io.blockloop.block.IoVector;
import io.blockloop.block.RequestFlags;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * {@code aio_write [-Cfquz] [-P pattern] off len [len..]}: issues a vectored write of the pattern (0xcd by
 * default), or with {@code -z} a write-zeroes of one length ({@code -u} may unmap), and returns at once; the
 * report is printed when it completes. {@code -f} FUA.
 *
 * <p>Threads: the main loop's thread, as every {@link IoSubcommand}; the completion that prints the report runs
 * there too ({@link IoSession#track}).
 */
final class AioWriteCommand implements IoSubcommand {
    static final Synopsis SYNOPSIS = new Synopsis("aio_write", null, 2, -1, "[-Cfquz] [-P pattern] off len [len..]",
            "asynchronously writes a number of bytes", true);

    @Override
    public Synopsis synopsis() {
        return SYNOPSIS;
    }

    @Override
    public boolean run(IoSession session, String typed, List<String> args) throws ArgumentError {
        boolean csv = false;
        boolean quiet = false;
        boolean zeroes = false;
        boolean patternGiven = false;
        int flags = 0;
        int pattern = 0xcd;
        OptionScanner options = new OptionScanner(typed, args, "CfqP:uz");
        for (int c = options.next(); c != OptionScanner.END; c = options.next()) {
            switch (c) {
                case 'C' -> csv = true;
                case 'f' -> flags |= RequestFlags.FUA;
                case 'q' -> quiet = true;
                case 'u' -> flags |= RequestFlags.MAY_UNMAP;
                case 'P' -> {
                    patternGiven = true;
                    pattern = CommandArguments.pattern(options.argument());
                }
                case 'z' -> zeroes = true;
                default -> throw ArgumentError.usage(SYNOPSIS, options.error());
            }
        }
        List<String> operands = options.operands();
        if (operands.size() < 2) {
            throw ArgumentError.usage(SYNOPSIS, null);
        }
        if (zeroes && operands.size() != 2) {
            throw new ArgumentError("-z supports only a single length parameter");
        }
        if ((flags & RequestFlags.MAY_UNMAP) != 0 && !zeroes) {
            throw new ArgumentError("-u requires -z to be specified");
        }
        if (zeroes && patternGiven) {
            throw new ArgumentError("-z and -P cannot be specified at the same time");
        }
        long offset = CommandArguments.number(operands.getFirst());
        long zeroBytes = zeroes ? CommandArguments.number(operands.get(1)) : 0;
        long[] lengths = zeroes ? null : CommandArguments.vectorLengths(operands.subList(1, operands.size()));
        Arena arena = Arena.ofShared();
        CompletableFuture<Void> request;
        long size;
        long t1;
        if (zeroes) {
            size = zeroBytes;
            t1 = System.nanoTime();
            request = session.backend().writeZeroesAsync(offset, size, flags);
        } else {
            MemorySegment buffer = session.allocate(arena, CommandArguments.total(lengths), pattern);
            IoVector qiov = IoSession.vector(buffer, lengths);
            size = qiov.size();
            t1 = System.nanoTime();
            request = session.backend().writevAsync(offset, qiov, flags);
        }
        boolean printReport = !quiet;
        boolean asCsv = csv;
        long bytes = size;
        session.track(request, arena, failure -> {
            long t2 = System.nanoTime();
            if (failure != null) {
                session.out().println("aio_write failed: " + IoSession.strerror(failure));
                return false;
            }
            if (printReport) {
                IoReport.print(session.out(), "wrote", t2 - t1, offset, bytes, bytes, 1, asCsv);
            }
            return true;
        });
        return true;
    }
}
