package io.blockloop.engine;

import io.blockloop.ffm.libc.EventFd;
import io.blockloop.ffm.libc.FileIo;
import io.blockloop.ffm.libc.OpenFlags;
import io.blockloop.ffm.memory.AlignedBuffer;

import java.nio.file.Path;
import java.util.function.IntSupplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/**
 * A burst of completions that one reaping pass delivers, for the io_uring tests of {@link SubmitsWhileReaping}:
 * {@code count} reads of eventfds, all completing when the test signals the eventfds, whose handlers each read 4 KiB
 * of an O_DIRECT pattern file (tags {@code count} to {@code 2 count - 1}) and then record how many requests are in
 * the kernel. Owns the eventfds, the file and the buffers.
 *
 * <p>Threads: the test's (the engine's owner).
 */
final class EventFdReadBurst implements AutoCloseable {
    private static final int FILE_SIZE = 256 * 1024;

    final int count;
    final Recorder rec;
    /** What each handler's {@code inKernel} said right after it submitted its file read. */
    final int[] inKernelAfterSubmit;
    private final int fd;
    private final EventFd[] ready;
    private final AlignedBuffer counters;
    private final AlignedBuffer buf;

    EventFdReadBurst(int count, Path file) {
        this.count = count;
        rec = new Recorder(2 * count);
        inKernelAfterSubmit = new int[count];
        ready = new EventFd[count];
        fd = TestFiles.createWithPattern(file, FILE_SIZE, OpenFlags.O_RDWR | OpenFlags.O_DIRECT);
        counters = AlignedBuffer.allocate(count * 8L, 8);
        buf = AlignedBuffer.allocate(count * 4096L, 4096);
    }

    /** Submits the eventfd reads on {@code engine}; each handler reads the file, then records {@code inKernel}. */
    void submit(IoEngine engine, IntSupplier inKernel) {
        CompletionHandler readsTheFile = (tag, result) -> {
            rec.complete(tag, result);
            engine.read(fd, buf.segment().asSlice(tag * 4096L, 4096), tag * 4096L, rec, tag + count);
            inKernelAfterSubmit[(int) tag] = inKernel.getAsInt();
        };
        for (int i = 0; i < count; i++) {
            ready[i] = EventFd.create(0, EventFd.EFD_CLOEXEC);
            engine.read(ready[i].fd(), counters.segment().asSlice(i * 8L, 8), 0, readsTheFile, i);
        }
    }

    /** Completes every eventfd read; an engine posts the completions with its next enter (or this write's return). */
    void signal() {
        for (EventFd e : ready) {
            e.signal();
        }
    }

    /** Every eventfd read got its 8 bytes, every file read 4 KiB of the right data. */
    void assertResults() {
        for (int i = 0; i < count; i++) {
            assertEquals(8, rec.results[i]);
            assertEquals(4096, rec.results[count + i]);
            assertNull(TestFiles.checkPatternThenZeros(buf.segment().asSlice(i * 4096L, 4096), i * 4096L, FILE_SIZE));
        }
    }

    @Override
    public void close() {
        for (EventFd e : ready) {
            if (e != null) {
                e.close();
            }
        }
        buf.close();
        counters.close();
        FileIo.close(fd);
    }
}
