package io.blockloop.block.file;

import io.blockloop.aio.AioContext;
import io.blockloop.engine.CompletionHandler;
import io.blockloop.engine.IoEngine;
import io.blockloop.engine.LinuxAioEngine;
import io.blockloop.fdmon.FdMonitorKind;
import io.blockloop.ffm.libc.FileIo;
import io.blockloop.ffm.libc.OpenFlags;
import io.blockloop.ffm.libc.Poll;
import io.blockloop.ffm.memory.AlignedBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Which native engine a context gets: on an io_uring loop one it sleeps in (unsignalled), on the other monitors, or
 * with {@value ContextEngines#NATIVE_SIGNALS_PROPERTY}, QEMU's eventfd-signalled one; either way reads complete
 * through the loop's blocking polls.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ContextEnginesTest {
    private static final int READS = 64;

    @TempDir
    Path dir;

    @Test
    void onAnIoUringLoopTheNativeEngineIsTheLoopsSleep() throws IOException {
        try (AioContext ctx = AioContext.create("native-sleeps", FdMonitorKind.IO_URING)) {
            LinuxAioEngine engine = nativeEngine(ctx);
            assertFalse(engine.signalsKernelCompletions());
            readThroughTheLoop(ctx, engine);
            assertEquals(0, readable(engine.completionFd()), "a kernel completion signalled the completion fd");
        }
    }

    @ParameterizedTest
    @EnumSource(value = FdMonitorKind.class, names = {"POLL", "EPOLL"})
    void underTheOtherMonitorsTheEventFdIsSignalled(FdMonitorKind kind) throws IOException {
        try (AioContext ctx = AioContext.create("native-signalled", kind)) {
            LinuxAioEngine engine = nativeEngine(ctx);
            assertTrue(engine.signalsKernelCompletions());
            readThroughTheLoop(ctx, engine);
        }
    }

    @Test
    void thePropertyKeepsTheEventFdOnAnIoUringLoop() throws IOException {
        String old = System.setProperty(ContextEngines.NATIVE_SIGNALS_PROPERTY, "true");
        try (AioContext ctx = AioContext.create("native-property", FdMonitorKind.IO_URING)) {
            LinuxAioEngine engine = nativeEngine(ctx);
            assertTrue(engine.signalsKernelCompletions());
            readThroughTheLoop(ctx, engine);
        } finally {
            if (old == null) {
                System.clearProperty(ContextEngines.NATIVE_SIGNALS_PROPERTY);
            } else {
                System.setProperty(ContextEngines.NATIVE_SIGNALS_PROPERTY, old);
            }
        }
    }

    private static LinuxAioEngine nativeEngine(AioContext ctx) {
        IoEngine engine = ContextEngines.of(ctx).engine(AioMode.NATIVE);
        return assertInstanceOf(LinuxAioEngine.class, engine);
    }

    /** Reads the file's blocks one at a time, each submitted and then waited for with blocking polls. */
    private void readThroughTheLoop(AioContext ctx, LinuxAioEngine engine) throws IOException {
        Path file = dir.resolve("blocks.img");
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            for (int i = 0; i < READS; i++) {
                byte[] block = new byte[4096];
                Arrays.fill(block, (byte) i);
                raf.write(block);
            }
        }
        int fd = FileIo.open(file.toString(), OpenFlags.O_RDONLY | OpenFlags.O_DIRECT | OpenFlags.O_CLOEXEC, 0);
        try (AlignedBuffer buf = AlignedBuffer.allocate(4096, 4096)) {
            long[] result = {0};
            CompletionHandler handler = (tag, res) -> result[0] = res;
            for (int i = 0; i < READS; i++) {
                result[0] = Long.MIN_VALUE;
                engine.read(fd, buf.segment(), i * 4096L, handler, i);
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                while (result[0] == Long.MIN_VALUE) {
                    assertTrue(System.nanoTime() < deadline, "read " + i + " never completed; " + engine);
                    ctx.poll(true);
                }
                assertEquals(4096, result[0], "read " + i);
                assertEquals((byte) i, buf.segment().get(JAVA_BYTE, 4095));
            }
        } finally {
            FileIo.close(fd);
        }
    }

    private static int readable(int fd) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment pollfd = arena.allocate(Poll.POLLFD_SIZE, 8);
            Poll.set(pollfd, 0, fd, Poll.POLLIN);
            return Poll.ppoll(pollfd, 1, 0) == 1 ? Poll.revents(pollfd, 0) : 0;
        }
    }
}
