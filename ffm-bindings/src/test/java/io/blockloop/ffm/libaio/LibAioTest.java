package io.blockloop.ffm.libaio;

import io.blockloop.ffm.errno.Errno;
import io.blockloop.ffm.errno.NativeCallException;
import io.blockloop.ffm.libc.EventFd;
import io.blockloop.ffm.libc.FileIo;
import io.blockloop.ffm.libc.OpenFlags;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LibAioTest {
    @TempDir
    Path dir;

    @Test
    void availableOnThisMachine() {
        assertTrue(LibAio.availability().available(), () -> "linux-aio: " + LibAio.availability().reason());
    }

    /**
     * A poll that nothing will fire is cancellable: current kernels answer {@code EINPROGRESS} and deliver its
     * event through {@code io_getevents}; a request the kernel no longer holds is {@code EINVAL}.
     * Segments the kernel would read or write past are refused before the call.
     */
    @Test
    void cancelTakesBackAPendingPollAndRefusesShortSegments() {
        long ctx = LibAio.setup(4);
        try (Arena arena = Arena.ofConfined(); EventFd quiet = EventFd.create()) {
            MemorySegment iocb = arena.allocate(Iocb.SIZE, 8);
            Iocb.prepare(iocb, Iocb.IOCB_CMD_POLL, quiet.fd(), 1 /* POLLIN */, 0, 0, 0, 0xcafeL, -1);
            MemorySegment list = arena.allocate(ValueLayout.ADDRESS);
            list.set(ValueLayout.ADDRESS, 0, iocb);
            assertEquals(1, LibAio.submitOrErrno(ctx, 1, list));
            MemorySegment result = arena.allocate(IoEvent.SIZE, 8);

            assertThrows(IllegalArgumentException.class,
                    () -> LibAio.cancelOrErrno(ctx, iocb.asSlice(0, Iocb.SIZE - 1), result));
            assertThrows(IllegalArgumentException.class,
                    () -> LibAio.cancelOrErrno(ctx, iocb, result.asSlice(0, IoEvent.SIZE - 1)));
            assertThrows(IllegalArgumentException.class, () -> LibAio.cancelOrErrno(ctx, iocb, result.asReadOnly()));

            assertEquals(-Errno.EINPROGRESS, LibAio.cancelOrErrno(ctx, iocb, result));
            MemorySegment events = arena.allocate(IoEvent.SIZE, 8);
            assertEquals(1, LibAio.getEventsOrErrno(ctx, 1, 1, events, MemorySegment.NULL), "the cancelled poll");
            assertEquals(0xcafeL, IoEvent.data(events, 0));
            assertEquals(-Errno.EINVAL, LibAio.cancelOrErrno(ctx, iocb, result), "no longer in the kernel");
        } finally {
            assertEquals(0, LibAio.destroyOrErrno(ctx));
        }
    }

    @Test
    void oneDirectReadThroughSubmitAndGetEvents() throws Exception {
        byte[] content = new byte[8192];
        Arrays.fill(content, 4096, 8192, (byte) 0x77);
        Path file = Files.write(dir.resolve("aio"), content);
        int fd = FileIo.open(file.toString(), OpenFlags.O_RDONLY | OpenFlags.O_DIRECT, 0);
        long ctx = LibAio.setup(16);
        try (Arena arena = Arena.ofConfined(); EventFd done = EventFd.create()) {
            MemorySegment buf = arena.allocate(4096, 4096);
            MemorySegment iocb = arena.allocate(Iocb.SIZE, 8);
            Iocb.prepare(iocb, Iocb.IOCB_CMD_PREAD, fd, buf.address(), 4096, 4096, 0, 0xfeedL, done.fd());
            MemorySegment list = arena.allocate(ValueLayout.ADDRESS);
            list.set(ValueLayout.ADDRESS, 0, iocb);
            assertEquals(1, LibAio.submitOrErrno(ctx, 1, list));

            MemorySegment events = arena.allocate(IoEvent.SIZE * 4, 8);
            assertEquals(1, LibAio.getEventsOrErrno(ctx, 1, 4, events, MemorySegment.NULL));
            assertEquals(0xfeedL, IoEvent.data(events, 0));
            assertEquals(iocb.address(), IoEvent.obj(events, 0));
            assertEquals(4096, IoEvent.res(events, 0));
            assertEquals(0x77, buf.get(ValueLayout.JAVA_BYTE, 100));
            assertEquals(1, done.drain(), "the eventfd counted the completion");

            MemorySegment ring = MemorySegment.ofAddress(ctx).reinterpret(AioRing.HEADER_SIZE);
            assertEquals(AioRing.MAGIC, ring.get(ValueLayout.JAVA_INT, AioRing.OFFSET_MAGIC), "the aio_ring header is mapped at ctx");
        } finally {
            assertEquals(0, LibAio.destroyOrErrno(ctx));
            FileIo.close(fd);
        }
    }

    @Test
    void aMisalignedDirectReadCompletesWithEinval() throws Exception {
        Path file = Files.write(dir.resolve("aio"), new byte[8192]);
        int fd = FileIo.open(file.toString(), OpenFlags.O_RDONLY | OpenFlags.O_DIRECT, 0);
        long ctx = LibAio.setup(4);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(8192, 4096);
            MemorySegment iocb = arena.allocate(Iocb.SIZE, 8);
            Iocb.prepare(iocb, Iocb.IOCB_CMD_PREAD, fd, buf.address() + 1, 4096, 0, 0, 1, -1);
            MemorySegment list = arena.allocate(ValueLayout.ADDRESS);
            list.set(ValueLayout.ADDRESS, 0, iocb);
            int submitted = LibAio.submitOrErrno(ctx, 1, list);
            if (submitted == 1) {
                MemorySegment events = arena.allocate(IoEvent.SIZE, 8);
                assertEquals(1, LibAio.getEventsOrErrno(ctx, 1, 1, events, MemorySegment.NULL));
                assertEquals(-Errno.EINVAL, IoEvent.res(events, 0));
            } else {
                assertEquals(-Errno.EINVAL, submitted, "or the submit itself refuses it");
            }
        } finally {
            LibAio.destroyOrErrno(ctx);
            FileIo.close(fd);
        }
    }

    @Test
    void badFdAndBadSetupAreNamed() {
        try (Arena arena = Arena.ofConfined()) {
            long ctx = LibAio.setup(4);
            try {
                MemorySegment iocb = arena.allocate(Iocb.SIZE, 8);
                Iocb.prepare(iocb, Iocb.IOCB_CMD_PREAD, -1, arena.allocate(512, 512).address(), 512, 0, 0, 0, -1);
                MemorySegment list = arena.allocate(ValueLayout.ADDRESS);
                list.set(ValueLayout.ADDRESS, 0, iocb);
                assertEquals(-Errno.EBADF, LibAio.submitOrErrno(ctx, 1, list));
            } finally {
                LibAio.destroyOrErrno(ctx);
            }
        }
        NativeCallException e = assertThrows(NativeCallException.class, () -> LibAio.setup(-1));
        assertEquals("io_setup: EINVAL (Invalid argument)", e.getMessage());
    }

    /**
     * The timeout is a struct timespec, 16 bytes that libaio and the kernel read: a smaller segment let them read
     * beyond it, and a heap one is not memory they can reach. NULL (wait without limit) and 16 bytes are taken.
     */
    @Test
    void getEventsRefusesATimeoutSmallerThanATimespec() {
        long ctx = LibAio.setup(4);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment events = arena.allocate(IoEvent.SIZE * 4, 8);
            for (MemorySegment bad : new MemorySegment[]{arena.allocate(8, 8), arena.allocate(16, 8).asSlice(0, 15),
                    MemorySegment.ofArray(new long[2])}) {
                IllegalArgumentException x = assertThrows(IllegalArgumentException.class,
                        () -> LibAio.getEventsOrErrno(ctx, 0, 4, events, bad));
                assertTrue(x.getMessage().contains("io_getevents") && x.getMessage().contains("timeout"),
                        x.getMessage());
            }
            assertEquals(0, LibAio.getEventsOrErrno(ctx, 0, 4, events, arena.allocate(16, 8)));
            assertEquals(0, LibAio.getEventsOrErrno(ctx, 0, 4, events, MemorySegment.NULL), "min 0: returns at once");
        } finally {
            LibAio.destroyOrErrno(ctx);
        }
    }

    /** The kernel writes the events: a read-only events array is refused. */
    @Test
    void getEventsRefusesAReadOnlyEventsArray() {
        long ctx = LibAio.setup(4);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment events = arena.allocate(IoEvent.SIZE * 4, 8).asReadOnly();
            IllegalArgumentException x = assertThrows(IllegalArgumentException.class,
                    () -> LibAio.getEventsOrErrno(ctx, 0, 4, events, MemorySegment.NULL));
            assertTrue(x.getMessage().contains("io_getevents") && x.getMessage().contains("read-only"), x.getMessage());
        } finally {
            LibAio.destroyOrErrno(ctx);
        }
    }

    /**
     * libaio's io_getevents reads the ring header at the context before the system call; io_destroy unmapped it, and
     * the context 1 was never mapped: both crashed the JVM (SIGSEGV in libaio.so). Now both answer -EINVAL, as the
     * kernel would, and a context set up after the destroy works, whatever address it got.
     */
    @Test
    void getEventsOnADestroyedOrUnknownContextAnswersEinval() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment events = arena.allocate(IoEvent.SIZE * 4, 8);
            MemorySegment zero = arena.allocate(16, 8); // a zero timeout: libaio's user-space fast path
            long ctx = LibAio.setup(4);
            assertEquals(0, LibAio.getEventsOrErrno(ctx, 0, 4, events, zero), "live and empty");
            assertEquals(0, LibAio.destroyOrErrno(ctx));
            assertEquals(-Errno.EINVAL, LibAio.getEventsOrErrno(ctx, 0, 4, events, zero));
            assertEquals(-Errno.EINVAL, LibAio.getEventsOrErrno(ctx, 0, 4, events, MemorySegment.NULL));
            assertEquals(-Errno.EINVAL, LibAio.getEventsOrErrno(1, 0, 4, events, zero));
            assertEquals(-Errno.EINVAL, LibAio.getEventsOrErrno(0, 0, 4, events, zero));
            assertEquals(-Errno.EINVAL, LibAio.destroyOrErrno(ctx), "destroyed twice");

            long again = LibAio.setup(4);
            try {
                assertEquals(0, LibAio.getEventsOrErrno(again, 0, 4, events, zero));
            } finally {
                assertEquals(0, LibAio.destroyOrErrno(again));
            }
            assertEquals(-Errno.EINVAL, LibAio.getEventsOrErrno(again, 0, 4, events, zero));
        }
    }

    /**
     * min > max (or min < 0) is EINVAL, as the kernel answers, whatever the timeout: libaio's fast path answered 0
     * for a zero timeout on an empty ring without asking the kernel.
     */
    @Test
    void getEventsRefusesMinAboveMaxWithAnyTimeout() {
        long ctx = LibAio.setup(4);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment events = arena.allocate(IoEvent.SIZE * 2, 8);
            MemorySegment zero = arena.allocate(16, 8);
            MemorySegment oneMs = arena.allocate(16, 8);
            oneMs.set(ValueLayout.JAVA_LONG, 8, 1_000_000L);
            assertEquals(-Errno.EINVAL, LibAio.getEventsOrErrno(ctx, 2, 1, events, oneMs));
            assertEquals(-Errno.EINVAL, LibAio.getEventsOrErrno(ctx, 2, 1, events, zero));
            assertEquals(-Errno.EINVAL, LibAio.getEventsOrErrno(ctx, -1, 1, events, zero));
            assertEquals(0, LibAio.getEventsOrErrno(ctx, 0, 2, events, zero));
        } finally {
            LibAio.destroyOrErrno(ctx);
        }
    }
}
