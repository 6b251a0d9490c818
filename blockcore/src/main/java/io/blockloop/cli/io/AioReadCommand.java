package io.blockloop.cli.io;

import io.blockloop.block.IoVector;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * {@code aio_read [-Cqv] [-P pattern] off len [len..]}: issues a vectored read and returns at once; when it
 * completes (while a later command waits, at {@code aio_flush}, or at the end) its report is printed, after the
 * {@code -P} check and the {@code -v} dump. A failed read prints {@code readv failed: ...} (qemu-io's words).
 *
 * <p>Threads: the main loop's thread, as every {@link IoSubcommand}; the completion that prints the report runs
 * there too ({@link IoSession#track}).
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
        VectoredRead read = VectoredRead.parse(SYNOPSIS, typed, args);
        Arena arena = Arena.ofShared();
        MemorySegment buffer = session.allocate(arena, CommandArguments.total(read.lengths()), 0xab);
        IoVector qiov = IoSession.vector(buffer, read.lengths());
        long t1 = System.nanoTime();
        session.track(session.backend().readvAsync(read.offset(), qiov), arena, failure -> {
            long t2 = System.nanoTime();
            if (failure != null) {
                session.out().println("readv failed: " + IoSession.strerror(failure));
                return false;
            }
            return read.report(session, buffer, qiov, t2 - t1);
        });
        return true;
    }
}
