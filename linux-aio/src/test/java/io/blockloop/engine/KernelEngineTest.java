package io.blockloop.engine;

import io.blockloop.ffm.libc.FileIo;
import io.blockloop.ffm.libc.OpenFlags;
import io.blockloop.ffm.memory.AlignedBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What only the kernel-queue engines (linux-aio, io_uring) do: batching, the shared rings, EAGAIN, resubmission. */
class KernelEngineTest {
    private static final int DIRECT = OpenFlags.O_RDWR | OpenFlags.O_DIRECT;

    @TempDir
    Path dir;

    @Test
    void linuxAioAndIoUringAreAvailableOnThisMachine() {
        assertTrue(LinuxAioEngine.availability().available(), String.valueOf(LinuxAioEngine.availability().reason()));
        assertTrue(IoUringEngine.availability().available(), String.valueOf(IoUringEngine.availability().reason()));
    }

    @Test
    void linuxAioReapsFromTheSharedRing() {
        try (LinuxAioEngine engine = LinuxAioEngine.open()) {
            assertTrue(engine.reapsFromUserspace(), "the aio_ring header was not recognised");
        }
    }

    @Test
    void linuxAioHoldsABatchUntilUnplugOrUntilItIsFull() {
        int fd = TestFiles.createWithPattern(dir.resolve("b.img"), 256 * 1024, DIRECT);
        try (LinuxAioEngine engine = LinuxAioEngine.open(64, 16);
             AlignedBuffer buf = AlignedBuffer.allocate(64 * 4096, 4096)) {
            Recorder rec = new Recorder(64);
            engine.plug();
            for (int i = 0; i < 15; i++) {
                engine.read(fd, buf.segment().asSlice(i * 4096L, 4096), i * 4096L, rec, i);
            }
            assertEquals(0, engine.inFlight(), "submitted inside the batch");
            engine.read(fd, buf.segment().asSlice(15 * 4096L, 4096), 15 * 4096L, rec, 15);
            assertEquals(16, engine.inFlight(), "a full batch (16) goes out at once");
            engine.read(fd, buf.segment().asSlice(16 * 4096L, 4096), 16 * 4096L, rec, 16);
            assertEquals(16, engine.inFlight());
            engine.unplug();
            assertEquals(17, engine.inFlight(), "unplug submits the rest");
            rec.awaitCompleted(engine, 17);
        } finally {
            FileIo.close(fd);
        }
    }

    @Test
    void ioUringHoldsABatchUntilUnplugAndRegistersTheRingFd() {
        int fd = TestFiles.createWithPattern(dir.resolve("u.img"), 256 * 1024, DIRECT);
        try (IoUringEngine engine = IoUringEngine.open(32);
             AlignedBuffer buf = AlignedBuffer.allocate(64 * 4096, 4096)) {
            Recorder rec = new Recorder(64);
            engine.plug();
            for (int i = 0; i < 20; i++) {
                engine.read(fd, buf.segment().asSlice(i * 4096L, 4096), i * 4096L, rec, i);
            }
            assertEquals(0, engine.inFlight(), "submitted inside the batch");
            engine.unplug();
            assertEquals(20, engine.inFlight());
            assertTrue(engine.ringFdRegistered(), "kernel 5.18+ lets the owner register the ring fd");
            rec.awaitCompleted(engine, 20);
            for (int i = 0; i < 20; i++) {
                assertEquals(4096, rec.results[i]);
            }
        } finally {
            FileIo.close(fd);
        }
    }

    /**
     * A kernel context of 1 event holds far fewer requests than the engine lets in flight, so io_submit takes a
     * prefix and then answers EAGAIN: everything stays queued and is retried as completions arrive.
     */
    @Test
    void linuxAioKeepsRequestsQueuedOnEagainAndLosesNone() {
        int fd = TestFiles.createWithPattern(dir.resolve("e.img"), 1 << 20, DIRECT);
        int n = 1000;
        try (LinuxAioEngine engine = LinuxAioEngine.openOversubscribed(1, 1024, 1024);
             AlignedBuffer buf = AlignedBuffer.allocate(n * 4096L, 4096)) {
            Recorder rec = new Recorder(n);
            engine.plug();
            for (int i = 0; i < n; i++) {
                engine.read(fd, buf.segment().asSlice(i * 4096L, 4096), (i % 256) * 4096L, rec, i);
            }
            engine.unplug();
            assertTrue(engine.eagainCount > 0, "io_submit never answered EAGAIN");
            rec.awaitCompleted(engine, n);
            for (int i = 0; i < n; i++) {
                assertEquals(4096, rec.results[i], "read " + i);
                assertEquals(1, rec.calls[i]);
                assertNull(TestFiles.checkPatternThenZeros(buf.segment().asSlice(i * 4096L, 4096),
                        (i % 256) * 4096L, 1 << 20));
            }
        } finally {
            FileIo.close(fd);
        }
    }

    /** io_uring asks again for the rest of a short read; the second round hits end of file and zero-fills. */
    @Test
    void ioUringResubmitsTheRestOfAShortRead() {
        int fd = TestFiles.createWithPattern(dir.resolve("s.img"), 10_000, DIRECT);
        try (IoUringEngine engine = IoUringEngine.open(8);
             AlignedBuffer buf = AlignedBuffer.allocate(16384, 4096)) {
            buf.segment().fill((byte) 0x5a);
            Recorder rec = new Recorder(1);
            engine.read(fd, buf.segment(), 0, rec, 0);
            rec.awaitCompleted(engine, 1);
            assertEquals(16384, rec.results[0]);
            assertTrue(engine.resubmitCount > 0, "the short read was not resubmitted");
            assertNull(TestFiles.checkPatternThenZeros(buf.segment(), 0, 10_000));
        } finally {
            FileIo.close(fd);
        }
    }
}
