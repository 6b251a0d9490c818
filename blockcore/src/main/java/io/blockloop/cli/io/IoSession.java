package io.blockloop.cli.io;

import io.blockloop.aio.AioContext;
import io.blockloop.aio.AioWait;
import io.blockloop.block.BlockIoException;
import io.blockloop.block.IoVector;
import io.blockloop.block.backend.BlockBackend;
import io.blockloop.ffm.errno.Errno;

import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.Function;

/**
 * What the commands of one {@code blockloop io} run share: the open image, the output streams, request buffers
 * ({@code qemu_io_alloc}: aligned, filled with a byte, optionally misaligned by 16 bytes with {@code -m}), and
 * the asynchronous requests still in flight ({@code aio_read}/{@code aio_write}), whose completions print their
 * report when the main loop runs them: while a later command waits, at {@code aio_flush}, or at the end.
 *
 * <p>Threads: the main loop's thread only (the completions of asynchronous requests run there too, since the
 * image's nodes live in the main context).
 */
final class IoSession {
    /** qemu-io's {@code MISALIGN_OFFSET}. */
    private static final int MISALIGN_OFFSET = 16;
    private static final int BUFFER_ALIGNMENT = 4096;

    private final BlockBackend backend;
    private final PrintStream out;
    private final PrintStream err;
    private final boolean misalign;
    private int inFlight;
    private int failedCompletions;

    IoSession(BlockBackend backend, PrintStream out, PrintStream err, boolean misalign) {
        this.backend = backend;
        this.out = out;
        this.err = err;
        this.misalign = misalign;
    }

    BlockBackend backend() {
        return backend;
    }

    AioContext context() {
        return backend.context();
    }

    /** Where qemu-io's {@code printf} output goes. */
    PrintStream out() {
        return out;
    }

    /** Where qemu-io's {@code fprintf(stderr)} and {@code error_report} output goes. */
    PrintStream err() {
        return err;
    }

    /** A buffer of {@code length} bytes from {@code arena}, filled with {@code pattern}. */
    MemorySegment allocate(Arena arena, long length, int pattern) {
        long extra = misalign ? MISALIGN_OFFSET : 0;
        MemorySegment base = arena.allocate(Math.max(1, length + extra), BUFFER_ALIGNMENT);
        base.fill((byte) pattern);
        return base.asSlice(extra, length);
    }

    /** One vector over {@code buffer}, cut into segments of {@code lengths} ({@code create_iovec}). */
    static IoVector vector(MemorySegment buffer, long[] lengths) {
        IoVector qiov = new IoVector(lengths.length);
        long at = 0;
        for (long len : lengths) {
            qiov.add(buffer.asSlice(at, len));
            at += len;
        }
        return qiov;
    }

    /**
     * Follows an asynchronous request: when {@code request} completes (in the main loop), {@code completion}
     * gets its failure (null on success) and says whether the command succeeded in the end; then
     * {@code buffers} is closed. A completion that throws counts as failed.
     */
    void track(CompletableFuture<Void> request, Arena buffers, Function<BlockIoException, Boolean> completion) {
        inFlight++;
        request.whenComplete((ignored, failure) -> {
            boolean ok = false;
            try {
                ok = completion.apply(failure == null ? null : ioFailure(failure));
            } catch (RuntimeException e) {
                err.println("blockloop: " + e.getMessage());
            } finally {
                inFlight--;
                if (!ok) {
                    failedCompletions++;
                }
                buffers.close();
                AioWait.kick();
            }
        });
    }

    /** Runs the main loop until every asynchronous request has completed ({@code aio_flush}, {@code blk_drain_all}). */
    void drainAsync() {
        AioWait.waitWhile(context(), () -> inFlight > 0);
        backend.drain();
    }

    /** How many asynchronous requests completed with a failure (an I/O error or a pattern mismatch). */
    int failedCompletions() {
        return failedCompletions;
    }

    /** C's {@code strerror} of the failure's errno: {@code Input/output error}. */
    static String strerror(BlockIoException e) {
        return Errno.text(e.errno());
    }

    private static BlockIoException ioFailure(Throwable failure) {
        Throwable t = failure instanceof CompletionException && failure.getCause() != null ? failure.getCause() : failure;
        if (t instanceof BlockIoException e) {
            return e;
        }
        if (t instanceof RuntimeException r) {
            throw r;
        }
        throw new IllegalStateException(t.getMessage(), t);
    }
}
