package io.blockloop.ffm.liburing;

import io.blockloop.ffm.errno.Errno;
import io.blockloop.ffm.errno.NativeCallException;
import io.blockloop.ffm.libc.EventFd;
import io.blockloop.ffm.libc.FileIo;
import io.blockloop.ffm.libc.OpenFlags;
import io.blockloop.ffm.liburing.generated.LibUring;
import io.blockloop.ffm.liburing.generated.__kernel_timespec;
import io.blockloop.ffm.liburing.generated.iovec;
import io.blockloop.ffm.testing.OpenFds;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.BitSet;
import java.util.Comparator;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The Java ring helpers against the running kernel: every test drives a real io_uring. */
class IoUringRingTest {
    private static final int BLOCK = 4096;
    private static final int POLLIN = 0x001;

    /** On the module's build directory, not /tmp: tmpfs (a common /tmp) rejects O_DIRECT with EINVAL. */
    private static Path dir;

    @BeforeAll
    static void requireIoUring() throws IOException {
        assertTrue(IoUringProbe.availability().available(), () -> IoUringProbe.availability().reason());
        Path target = Path.of("target");
        Files.createDirectories(target);
        dir = Files.createTempDirectory(target, "liburing-test");
    }

    @AfterAll
    static void removeFiles() throws IOException {
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    @Test
    void nopCompletesWithItsUserDataAndResultZero() {
        try (IoUringRing ring = IoUringRing.create(8)) {
            MemorySegment sqe = ring.nextSqe();
            assertNotNull(sqe);
            Sqe.prepNop(sqe);
            Sqe.setUserData(sqe, 0xC0FFEE_0000_0001L);

            assertEquals(1, ring.submitAndWait(1));

            assertEquals(1, ring.cqReady());
            int head = ring.cqHead();
            assertEquals(0xC0FFEE_0000_0001L, ring.cqeUserData(head));
            assertEquals(0, ring.cqeRes(head));
            assertEquals(0, ring.cqeFlags(head));
            ring.cqAdvance(1);
            assertEquals(0, ring.cqReady());
            assertEquals(head + 1, ring.cqHead());
        }
    }

    /**
     * cqAdvance past the ready CQEs (or backwards) moved the head beyond the tail: cqReady() went negative and the
     * completions that arrived next were not seen. Refused; the head stays where it was and a real CQE is still read.
     */
    @Test
    void cqAdvanceBeyondTheReadyCqesOrBackwardsIsRefused() {
        try (IoUringRing ring = IoUringRing.create(8)) {
            int head = ring.cqHead();
            IllegalArgumentException x = assertThrows(IllegalArgumentException.class, () -> ring.cqAdvance(1));
            assertTrue(x.getMessage().contains("cqAdvance: 1 CQEs, 0 ready"), x.getMessage());
            assertThrows(IllegalArgumentException.class, () -> ring.cqAdvance(-1));
            assertEquals(head, ring.cqHead());

            MemorySegment sqe = ring.nextSqe();
            Sqe.prepNop(sqe);
            Sqe.setUserData(sqe, 42);
            assertEquals(1, ring.submitAndWait(1));
            assertEquals(1, ring.cqReady());
            assertThrows(IllegalArgumentException.class, () -> ring.cqAdvance(2));
            assertEquals(42, ring.cqeUserData(ring.cqHead()));
            ring.cqAdvance(0);
            ring.cqAdvance(1);
            assertEquals(0, ring.cqReady());
        }
    }

    @Test
    void aCooperativeRingHasTheTaskRunFlagsAndCompletesANop() {
        // Kernel 5.19 or later (the test machine runs 6.x): the flags are taken, not dropped by the fallback.
        try (IoUringRing ring = IoUringRing.createCooperative(8)) {
            int coop = LibUring.IORING_SETUP_COOP_TASKRUN() | LibUring.IORING_SETUP_TASKRUN_FLAG();
            assertEquals(coop, ring.setupFlags() & coop);
            MemorySegment sqe = ring.nextSqe();
            Sqe.prepNop(sqe);
            Sqe.setUserData(sqe, 7);
            assertEquals(1, ring.submitAndWait(1));
            assertEquals(7, ring.cqeUserData(ring.cqHead()));
            ring.cqAdvance(1);
            assertFalse(ring.taskRunPending());
        }
    }

    @Test
    void readOfAnODirectFileReturnsTheBytesOnDisk() throws IOException {
        Path file = patternFile("read", 2 * BLOCK);
        int fd = FileIo.open(file.toString(), OpenFlags.O_RDONLY | OpenFlags.O_DIRECT, 0);
        try (IoUringRing ring = IoUringRing.create(4); Arena arena = Arena.ofConfined()) {
            MemorySegment buffer = arena.allocate(BLOCK, BLOCK);
            MemorySegment sqe = ring.nextSqe();
            Sqe.prepRead(sqe, fd, buffer, BLOCK);
            Sqe.setUserData(sqe, 42);

            ring.submitAndWait(1);

            int head = ring.cqHead();
            assertEquals(42, ring.cqeUserData(head));
            assertEquals(BLOCK, ring.cqeRes(head));
            ring.cqAdvance(1);
            assertArrayEquals(pattern(2 * BLOCK, BLOCK, BLOCK), buffer.toArray(ValueLayout.JAVA_BYTE));
        } finally {
            FileIo.close(fd);
        }
    }

    @Test
    void manyMoreNopsThanRingEntriesAreEachCompletedExactlyOnce() {
        int total = 10_000;
        BitSet seen = new BitSet(total);
        try (IoUringRing ring = IoUringRing.create(8)) {
            int queued = 0;
            int completed = 0;
            int chunks = 0;
            while (completed < total) {
                int inChunk = 0;
                MemorySegment sqe;
                while (queued < total && (sqe = ring.nextSqe()) != null) {
                    Sqe.prepNop(sqe);
                    Sqe.setUserData(sqe, queued++);
                    inChunk++;
                }
                if (inChunk > 0) {
                    chunks++;
                }
                ring.submitAndWait(1);
                int ready = ring.cqReady();
                int head = ring.cqHead();
                for (int i = 0; i < ready; i++) {
                    int userData = (int) ring.cqeUserData(head + i);
                    assertEquals(0, ring.cqeRes(head + i));
                    assertFalse(seen.get(userData), "completion " + userData + " seen twice");
                    seen.set(userData);
                }
                ring.cqAdvance(ready);
                completed += ready;
            }
            assertEquals(total, seen.cardinality());
            assertTrue(chunks >= total / ring.sqEntries(), "submitted in chunks of at most the SQ size");
            assertEquals(0, ring.cqReady());
            assertFalse(ring.cqHasOverflow());
        }
    }

    @Test
    void nextSqeReturnsNullWhenTheSubmissionQueueIsFull() {
        try (IoUringRing ring = IoUringRing.create(4)) {
            assertEquals(4, ring.sqEntries());
            assertEquals(8, ring.cqEntries());
            for (int i = 0; i < 4; i++) {
                MemorySegment sqe = ring.nextSqe();
                assertNotNull(sqe);
                Sqe.prepNop(sqe);
            }
            assertNull(ring.nextSqe());
            assertEquals(4, ring.sqReady());
            assertEquals(0, ring.sqSpaceLeft());

            assertEquals(4, ring.submit());

            assertEquals(0, ring.sqReady());
            assertNotNull(ring.nextSqe(), "slots are free again once the kernel consumed them");
        }
    }

    @Test
    void nextSqeZeroesTheSlotItHandsOut() {
        try (IoUringRing ring = IoUringRing.create(1)) {
            MemorySegment sqe = ring.nextSqe();
            Sqe.prepWrite(sqe, -1, 0x1234_5678L, 99, 1L << 40);
            Sqe.setUserData(sqe, -1L);
            Sqe.setFlags(sqe, LibUring.IOSQE_ASYNC());
            // Submit it so that the slot comes round again (fd -1: the write fails with EBADF).
            ring.submitAndWait(1);
            assertEquals(-Errno.EBADF, ring.cqeRes(ring.cqHead()));
            ring.cqAdvance(ring.cqReady());

            MemorySegment again = ring.nextSqe();
            assertEquals(sqe.address(), again.address(), "a one-entry ring reuses its only slot");
            assertArrayEquals(new byte[(int) again.byteSize()], again.toArray(ValueLayout.JAVA_BYTE));
            Sqe.prepNop(again);
            ring.submitAndWait(1);
            ring.cqAdvance(ring.cqReady());
        }
    }

    @Test
    void readOnABadFdCompletesWithMinusEbadf() {
        try (IoUringRing ring = IoUringRing.create(4); Arena arena = Arena.ofConfined()) {
            // Closed only after the ring exists: the ring fd takes the lowest free number, so a number closed
            // before io_uring_queue_init_params would be the ring fd itself (and a read of it gives EINVAL).
            int closedFd = FileIo.open("/dev/null", OpenFlags.O_RDONLY, 0);
            FileIo.close(closedFd);
            MemorySegment buffer = arena.allocate(BLOCK, BLOCK);
            Sqe.prepRead(ring.nextSqe(), -1, buffer, 0);
            MemorySegment second = ring.nextSqe();
            Sqe.prepRead(second, closedFd, buffer, 0);
            Sqe.setUserData(second, 1);

            ring.submitAndWait(2);

            assertEquals(2, ring.cqReady());
            int head = ring.cqHead();
            for (int i = 0; i < 2; i++) {
                assertEquals(-Errno.EBADF, ring.cqeRes(head + i), "user_data " + ring.cqeUserData(head + i));
            }
            ring.cqAdvance(2);
        }
    }

    @Test
    void writevThenReadvRoundTripThroughIovecs() throws IOException {
        Path file = dir.resolve("vectored");
        Files.write(file, new byte[2 * BLOCK]);
        int fd = FileIo.open(file.toString(), OpenFlags.O_RDWR | OpenFlags.O_DIRECT, 0);
        try (IoUringRing ring = IoUringRing.create(4); Arena arena = Arena.ofConfined()) {
            MemorySegment a = arena.allocate(BLOCK, BLOCK).copyFrom(MemorySegment.ofArray(pattern(BLOCK, 0, BLOCK)));
            MemorySegment b = arena.allocate(BLOCK, BLOCK).copyFrom(MemorySegment.ofArray(pattern(BLOCK, 7, BLOCK)));
            MemorySegment iov = iovecs(arena, a, b);
            Sqe.prepWritev(ring.nextSqe(), fd, iov.address(), 2, 0, 0);
            ring.submitAndWait(1);
            assertEquals(2 * BLOCK, ring.cqeRes(ring.cqHead()));
            ring.cqAdvance(1);

            MemorySegment sqe = ring.nextSqe();
            Sqe.prepFsync(sqe, fd, LibUring.IORING_FSYNC_DATASYNC());
            ring.submitAndWait(1);
            assertEquals(0, ring.cqeRes(ring.cqHead()));
            ring.cqAdvance(1);

            MemorySegment c = arena.allocate(BLOCK, BLOCK);
            MemorySegment d = arena.allocate(BLOCK, BLOCK);
            Sqe.prepReadv(ring.nextSqe(), fd, iovecs(arena, d, c).address(), 2, 0, 0);
            ring.submitAndWait(1);
            assertEquals(2 * BLOCK, ring.cqeRes(ring.cqHead()));
            ring.cqAdvance(1);
            assertArrayEquals(pattern(BLOCK, 0, BLOCK), d.toArray(ValueLayout.JAVA_BYTE));
            assertArrayEquals(pattern(BLOCK, 7, BLOCK), c.toArray(ValueLayout.JAVA_BYTE));
        } finally {
            FileIo.close(fd);
        }
        byte[] onDisk = Files.readAllBytes(file);
        byte[] expected = new byte[2 * BLOCK];
        System.arraycopy(pattern(BLOCK, 0, BLOCK), 0, expected, 0, BLOCK);
        System.arraycopy(pattern(BLOCK, 7, BLOCK), 0, expected, BLOCK, BLOCK);
        assertArrayEquals(expected, onDisk, "java.nio sees what the ring wrote");
    }

    @Test
    void readFixedFromARegisteredBufferAndARegisteredFile() throws IOException {
        Path file = patternFile("fixed", BLOCK);
        int fd = FileIo.open(file.toString(), OpenFlags.O_RDONLY | OpenFlags.O_DIRECT, 0);
        try (IoUringRing ring = IoUringRing.create(4); Arena arena = Arena.ofConfined()) {
            MemorySegment buffer = arena.allocate(BLOCK, BLOCK);
            ring.registerBuffers(iovecs(arena, buffer), 1);
            ring.registerFiles(arena.allocateFrom(ValueLayout.JAVA_INT, fd), 1);

            MemorySegment sqe = ring.nextSqe();
            Sqe.prepReadFixed(sqe, 0, buffer.address(), BLOCK, 0, 0);
            Sqe.setFlags(sqe, LibUring.IOSQE_FIXED_FILE());
            ring.submitAndWait(1);

            assertEquals(BLOCK, ring.cqeRes(ring.cqHead()));
            ring.cqAdvance(1);
            assertArrayEquals(pattern(BLOCK, 0, BLOCK), buffer.toArray(ValueLayout.JAVA_BYTE));
            ring.unregisterFiles();
            ring.unregisterBuffers();
        } finally {
            FileIo.close(fd);
        }
    }

    @Test
    void timeoutCompletesWithMinusEtime() {
        try (IoUringRing ring = IoUringRing.create(4); Arena arena = Arena.ofConfined()) {
            MemorySegment ts = arena.allocate(__kernel_timespec.layout());
            __kernel_timespec.tv_sec(ts, 0);
            __kernel_timespec.tv_nsec(ts, 1_000_000);
            MemorySegment sqe = ring.nextSqe();
            Sqe.prepTimeout(sqe, ts.address(), 0, 0);
            Sqe.setUserData(sqe, 5);

            ring.submitAndWait(1);

            assertEquals(5, ring.cqeUserData(ring.cqHead()));
            assertEquals(-Errno.ETIME, ring.cqeRes(ring.cqHead()));
            ring.cqAdvance(1);
        }
    }

    @Test
    void pollAddFiresWhenTheEventfdIsSignalled() {
        try (IoUringRing ring = IoUringRing.create(4); EventFd event = EventFd.create()) {
            MemorySegment sqe = ring.nextSqe();
            Sqe.prepPollAdd(sqe, event.fd(), POLLIN);
            Sqe.setUserData(sqe, 77);
            ring.submit();
            assertEquals(0, ring.waitCqeTimeout(1_000_000), "nothing to read yet: the wait times out");

            event.signal();

            assertTrue(ring.waitCqeTimeout(10_000_000_000L) >= 1);
            assertEquals(77, ring.cqeUserData(ring.cqHead()));
            assertTrue((ring.cqeRes(ring.cqHead()) & POLLIN) != 0);
            ring.cqAdvance(1);
        }
    }

    @Test
    void pollRemoveCancelsAPendingPoll() {
        try (IoUringRing ring = IoUringRing.create(4); EventFd event = EventFd.create()) {
            MemorySegment poll = ring.nextSqe();
            Sqe.prepPollAdd(poll, event.fd(), POLLIN);
            Sqe.setUserData(poll, 100);
            ring.submit();
            MemorySegment remove = ring.nextSqe();
            Sqe.prepPollRemove(remove, 100);
            Sqe.setUserData(remove, 101);

            ring.submitAndWait(2);

            assertEquals(2, ring.cqReady());
            int head = ring.cqHead();
            for (int i = 0; i < 2; i++) {
                long userData = ring.cqeUserData(head + i);
                int expected = userData == 100 ? -Errno.ECANCELED : 0;
                assertEquals(expected, ring.cqeRes(head + i), "user_data " + userData);
            }
            ring.cqAdvance(2);
        }
    }

    @Test
    void cancelOfAnUnknownRequestCompletesWithMinusEnoent() {
        try (IoUringRing ring = IoUringRing.create(4)) {
            Sqe.prepCancel(ring.nextSqe(), 12345, 0);
            ring.submitAndWait(1);
            assertEquals(-Errno.ENOENT, ring.cqeRes(ring.cqHead()));
            ring.cqAdvance(1);
        }
    }

    @Test
    void waitCqeTimeoutReturnsZeroOnTimeoutAndTheReadyCountOtherwise() {
        try (IoUringRing ring = IoUringRing.create(4)) {
            assertEquals(0, ring.waitCqeTimeout(0));
            assertEquals(0, ring.waitCqeTimeout(2_000_000));
            Sqe.prepNop(ring.nextSqe());
            Sqe.prepNop(ring.nextSqe());
            assertEquals(2, ring.submit());
            assertEquals(2, ring.waitCqeTimeout(1_000_000_000L));
            assertEquals(2, ring.waitCqeTimeout(-1), "a negative timeout waits without limit");
            ring.cqAdvance(2);
        }
    }

    @Test
    void aRegisteredRingFdStillSubmitsAndIsPinnedToItsThread() throws InterruptedException {
        try (IoUringRing ring = IoUringRing.create(4)) {
            assertTrue(ring.registerRingFd(), "kernel 5.18+ supports IORING_REGISTER_RING_FDS");
            assertTrue(ring.registerRingFd(), "registering again on the same thread is a no-op");
            Sqe.prepNop(ring.nextSqe());
            assertEquals(1, ring.submitAndWait(1));
            ring.cqAdvance(1);

            AtomicReference<Throwable> failure = new AtomicReference<>();
            Thread other = Thread.ofPlatform().start(() -> failure.set(assertThrows(Throwable.class, ring::submit)));
            other.join();
            assertInstanceOf(IllegalStateException.class, failure.get());
        }
    }

    @Test
    void closingARegisteredRingFromAnotherThreadLeavesThatThreadsRingsAlone() throws InterruptedException {
        try (IoUringRing mine = IoUringRing.create(4)) {
            assertTrue(mine.registerRingFd());
            IoUringRing[] theirs = new IoUringRing[1];
            Thread other = Thread.ofPlatform().start(() -> {
                theirs[0] = IoUringRing.create(4);
                assertTrue(theirs[0].registerRingFd());
            });
            other.join();
            // Closing 'theirs' here must not unregister 'mine', which may sit at the same index in this
            // thread's table (liburing would unregister by index, and the kernel does not check the ring).
            theirs[0].close();
            Sqe.prepNop(mine.nextSqe());
            assertEquals(1, mine.submitAndWait(1));
            mine.cqAdvance(1);
        }
    }

    @Test
    void closingTwiceIsHarmlessAndUseAfterCloseFailsCleanly() {
        IoUringRing ring = IoUringRing.create(4);
        assertNotEquals(-1, ring.fd());
        ring.close();
        assertTrue(ring.isClosed());
        assertDoesNotThrow(ring::close);
        assertThrows(IllegalStateException.class, ring::nextSqe);
        assertThrows(IllegalStateException.class, ring::cqReady);
        assertThrows(IllegalStateException.class, ring::submit);
    }

    @Test
    void creatingAndClosing200RingsLeaksNoFileDescriptors() {
        IoUringRing.create(2).close(); // warm up: class loading and liburing's first use open nothing later
        int before = OpenFds.count();
        for (int i = 0; i < 200; i++) {
            IoUringRing ring = IoUringRing.create(8);
            if (i % 2 == 0) {
                Sqe.prepNop(ring.nextSqe());
                ring.submitAndWait(1);
                ring.cqAdvance(1);
            }
            ring.close();
        }
        assertEquals(before, OpenFds.count());
    }

    @Test
    void setupErrorsNameTheCallAndTheErrno() {
        NativeCallException e = assertThrows(NativeCallException.class, () -> IoUringRing.create(1 << 20));
        assertEquals("io_uring_queue_init_params", e.call());
        assertEquals("EINVAL", e.symbol());
        assertThrows(IllegalArgumentException.class, () -> IoUringRing.create(0));
    }

    /**
     * IORING_SETUP_NO_SQARRAY (1 << 16) is newer than liburing 2.3: the kernel took it, changed the ring layout, and
     * create failed with "ring masks ... disagree". It is refused up front, by name; the flags liburing 2.3 knows
     * still work.
     */
    @Test
    void setupFlagsLiburing23DoesNotKnowAreRefusedByName() {
        int before = OpenFds.count();
        IllegalArgumentException x = assertThrows(IllegalArgumentException.class, () -> IoUringRing.create(8, 1 << 16));
        assertTrue(x.getMessage().contains("IORING_SETUP_NO_SQARRAY (0x10000)")
                && x.getMessage().contains("liburing 2.3"), x.getMessage());
        x = assertThrows(IllegalArgumentException.class,
                () -> IoUringRing.create(8, LibUring.IORING_SETUP_CLAMP() | 1 << 30));
        assertTrue(x.getMessage().contains("1 << 30"), x.getMessage());
        assertEquals(before, OpenFds.count(), "no ring was set up");
        try (IoUringRing ring = IoUringRing.create(8, LibUring.IORING_SETUP_CLAMP()
                | LibUring.IORING_SETUP_SINGLE_ISSUER())) {
            assertEquals(LibUring.IORING_SETUP_CLAMP() | LibUring.IORING_SETUP_SINGLE_ISSUER(), ring.setupFlags());
        }
    }

    // ---------------------------------------------------------------- helpers

    /** Byte {@code i} of a file of {@code size} bytes; {@code from} selects the window returned. */
    private static byte[] pattern(int size, int from, int length) {
        byte[] bytes = new byte[length];
        for (int i = 0; i < length; i++) {
            int at = from + i;
            bytes[i] = (byte) (at * 31 + at / BLOCK + size / BLOCK);
        }
        return bytes;
    }

    private static Path patternFile(String name, int size) throws IOException {
        Path file = dir.resolve(name);
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            ByteBuffer bytes = ByteBuffer.wrap(pattern(size, 0, size));
            while (bytes.hasRemaining()) {
                channel.write(bytes);
            }
            channel.force(true);
        }
        return file;
    }

    private static MemorySegment iovecs(Arena arena, MemorySegment... buffers) {
        MemorySegment iov = iovec.allocateArray(buffers.length, arena);
        for (int i = 0; i < buffers.length; i++) {
            MemorySegment one = iovec.asSlice(iov, i);
            iovec.iov_base(one, buffers[i]);
            iovec.iov_len(one, buffers[i].byteSize());
        }
        return iov;
    }

    /**
     * A virtual thread does not register the ring fd: the registration would live in its current carrier's table,
     * and after a move its submits entered through another carrier's index (EINVAL). The ring works unregistered.
     */
    @Test
    void aVirtualThreadDoesNotRegisterTheRingFd() throws Exception {
        AtomicReference<String> outcome = new AtomicReference<>();
        Thread.ofVirtual().start(() -> {
            try (IoUringRing ring = IoUringRing.create(4)) {
                boolean registered = ring.registerRingFd();
                MemorySegment sqe = ring.nextSqe();
                Sqe.prepNop(sqe);
                Sqe.setUserData(sqe, 5);
                outcome.set("registered=" + registered + " submitted=" + ring.submitOrErrno());
            }
        }).join();
        assertEquals("registered=false submitted=1", outcome.get());
    }
}
