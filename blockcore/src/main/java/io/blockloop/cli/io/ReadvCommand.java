package io.blockloop.cli.io;

import io.blockloop.block.BlockIoException;
import io.blockloop.block.IoVector;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * {@code readv [-Cqv] [-P pattern] off len [len..]}: a vectored read, one buffer segment per length, waiting for
 * it; {@code -P} checks the whole data.
 *
 * <p>Threads: the main loop's thread, as every {@link IoSubcommand}.
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
        VectoredRead read = VectoredRead.parse(SYNOPSIS, typed, args);
        try (Arena arena = Arena.ofShared()) {
            MemorySegment buffer = session.allocate(arena, CommandArguments.total(read.lengths()), 0xab);
            IoVector qiov = IoSession.vector(buffer, read.lengths());
            long t1 = System.nanoTime();
            try {
                session.backend().readv(read.offset(), qiov);
            } catch (BlockIoException e) {
                session.out().println("readv failed: " + IoSession.strerror(e));
                return false;
            }
            return read.report(session, buffer, qiov, System.nanoTime() - t1);
        }
    }
}
