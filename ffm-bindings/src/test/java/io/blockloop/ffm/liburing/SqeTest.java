package io.blockloop.ffm.liburing;

import io.blockloop.ffm.libc.FileIo;
import io.blockloop.ffm.libc.OpenFlags;
import io.blockloop.ffm.liburing.generated.io_uring_sqe;
import io.blockloop.ffm.testing.LoopDevice;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@link Sqe}'s per-request flags: where {@link Sqe#setRwFlags} writes, and that the kernel honours what it wrote. */
class SqeTest {
    /** {@code offsetof(struct io_uring_sqe, rw_flags)} in the kernel UAPI header: after opcode..len. */
    private static final long RW_FLAGS_OFFSET = 28;
    private static final int BLOCK = 4096;

    @TempDir
    Path dir;

    @BeforeAll
    static void requireIoUring() {
        assertTrue(IoUringProbe.availability().available(), () -> IoUringProbe.availability().reason());
    }

    /** The kernel writes into a read's buffer: a read-only segment is refused, and a write from one is not. */
    @Test
    void prepReadRefusesAReadOnlySegment() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment sqe = arena.allocate(io_uring_sqe.layout());
            MemorySegment readOnly = arena.allocate(4096, 4096).asReadOnly();
            IllegalArgumentException x = assertThrows(IllegalArgumentException.class,
                    () -> Sqe.prepRead(sqe, 3, readOnly, 0));
            assertTrue(x.getMessage().contains("prepRead") && x.getMessage().contains("read-only"), x.getMessage());
            Sqe.prepWrite(sqe, 3, readOnly, 0);
            assertEquals(readOnly.address(), io_uring_sqe.addr(sqe));
        }
    }

    /**
     * buf_index is 16 bits: the index was cast to short, so 65536 became 0 and the request used another registered
     * buffer. Outside 0..65535 is refused; 65535 is stored whole.
     */
    @Test
    void fixedBufferIndicesOutsideSixteenBitsAreRefused() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment sqe = arena.allocate(io_uring_sqe.layout());
            for (int bad : new int[]{65536, -1, 65536 + 3, Integer.MIN_VALUE}) {
                IllegalArgumentException x = assertThrows(IllegalArgumentException.class,
                        () -> Sqe.prepReadFixed(sqe, 3, 0x1000, 512, 0, bad));
                assertTrue(x.getMessage().contains("prepReadFixed") && x.getMessage().contains(Integer.toString(bad)),
                        x.getMessage());
                assertThrows(IllegalArgumentException.class, () -> Sqe.prepWriteFixed(sqe, 3, 0x1000, 512, 0, bad));
            }
            Sqe.prepWriteFixed(sqe, 3, 0x1000, 512, 0, 65535);
            assertEquals(65535, Short.toUnsignedInt(io_uring_sqe.buf_index(sqe)));
        }
    }

    /**
     * A negative length reached the kernel as 0xFFFFFFFF (the SQE's len is unsigned); a heap segment's address() is an
     * offset into its array and reached the kernel as address 0. Both refused, naming the call and the value.
     */
    @Test
    void negativeLengthsAndHeapSegmentsAreRefused() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment sqe = arena.allocate(io_uring_sqe.layout());
            IllegalArgumentException x = assertThrows(IllegalArgumentException.class,
                    () -> Sqe.prepRead(sqe, 3, 0x1000L, -1, 0));
            assertTrue(x.getMessage().contains("prepRead") && x.getMessage().contains("-1"), x.getMessage());
            assertThrows(IllegalArgumentException.class, () -> Sqe.prepWrite(sqe, 3, 0x1000L, -1, 0));
            assertThrows(IllegalArgumentException.class, () -> Sqe.prepReadFixed(sqe, 3, 0x1000L, -1, 0, 0));
            assertThrows(IllegalArgumentException.class,
                    () -> Sqe.prepWriteFixed(sqe, 3, 0x1000L, Integer.MIN_VALUE, 0, 0));

            MemorySegment heap = MemorySegment.ofArray(new byte[4096]);
            x = assertThrows(IllegalArgumentException.class, () -> Sqe.prepRead(sqe, 3, heap, 0));
            assertTrue(x.getMessage().contains("prepRead") && x.getMessage().contains("heap"), x.getMessage());
            assertThrows(IllegalArgumentException.class, () -> Sqe.prepWrite(sqe, 3, heap, 0));

            Sqe.prepRead(sqe, 3, 0x1000L, 0, 0); // zero is a length
            MemorySegment buffer = arena.allocate(512);
            Sqe.prepWrite(sqe, 3, buffer, 0);
            assertEquals(buffer.address(), io_uring_sqe.addr(sqe));
            assertEquals(512, io_uring_sqe.len(sqe));
        }
    }

    @Test
    void setRwFlagsWritesTheRwFlagsWordThatPrepZeroes() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment sqe = arena.allocate(io_uring_sqe.layout());
            assertEquals(RW_FLAGS_OFFSET, io_uring_sqe.rw_flags$offset(), "generated layout matches the UAPI");

            Sqe.prepWrite(sqe, 3, 0x1000L, BLOCK, 8192);
            assertEquals(0, sqe.get(JAVA_INT, RW_FLAGS_OFFSET), "prep zeroes the flags word");
            Sqe.setRwFlags(sqe, FileIo.RWF_DSYNC);
            assertEquals(FileIo.RWF_DSYNC, sqe.get(JAVA_INT, RW_FLAGS_OFFSET));
            assertEquals(FileIo.RWF_DSYNC, io_uring_sqe.rw_flags(sqe));
            // Nothing else moved: the prep's fields are intact.
            assertEquals(3, io_uring_sqe.fd(sqe));
            assertEquals(0x1000L, io_uring_sqe.addr(sqe));
            assertEquals(BLOCK, io_uring_sqe.len(sqe));
            assertEquals(8192, io_uring_sqe.off(sqe));

            Sqe.prepWrite(sqe, 3, 0x1000L, BLOCK, 8192);
            assertEquals(0, io_uring_sqe.rw_flags(sqe), "the next prep clears it again");
            Sqe.prepWritev(sqe, 3, 0x2000L, 2, 0, FileIo.RWF_DSYNC | FileIo.RWF_HIPRI);
            assertEquals(FileIo.RWF_DSYNC | FileIo.RWF_HIPRI, sqe.get(JAVA_INT, RW_FLAGS_OFFSET),
                    "prepWritev sets the same word");
        }
    }

    /**
     * A plain {@code IORING_OP_WRITE} to a loop device sends no flush; the same write with {@code RWF_DSYNC} set by
     * {@link Sqe#setRwFlags} does ({@code /sys/block/loopN/stat}, flushes completed).
     */
    @Test
    void dsyncWriteReachesTheDeviceAsAFlushAndAPlainWriteDoesNot() throws Exception {
        Path backing = dir.resolve("backing.img");
        try (RandomAccessFile f = new RandomAccessFile(backing.toFile(), "rw")) {
            f.setLength(1 << 20);
        }
        try (LoopDevice loop = LoopDevice.attach(backing)) {
            int fd = FileIo.open(loop.path().toString(), OpenFlags.O_RDWR | OpenFlags.O_DIRECT, 0);
            try (IoUringRing ring = IoUringRing.create(4); Arena arena = Arena.ofConfined()) {
                MemorySegment buffer = arena.allocate(BLOCK, BLOCK).fill((byte) 7);
                long before = flushesCompleted(loop.path());
                assertEquals(BLOCK, write(ring, fd, buffer, 0));
                assertEquals(before, flushesCompleted(loop.path()), "a plain O_DIRECT write sent a flush");
                assertEquals(BLOCK, write(ring, fd, buffer, FileIo.RWF_DSYNC));
                assertTrue(flushesCompleted(loop.path()) > before, "a RWF_DSYNC write sent no flush");
            } finally {
                FileIo.close(fd);
            }
        }
    }

    private static int write(IoUringRing ring, int fd, MemorySegment buffer, int rwFlags) {
        MemorySegment sqe = ring.nextSqe();
        Sqe.prepWrite(sqe, fd, buffer, 0);
        Sqe.setRwFlags(sqe, rwFlags);
        Sqe.setUserData(sqe, 1);
        ring.submitAndWait(1);
        int res = ring.cqeRes(ring.cqHead());
        ring.cqAdvance(1);
        return res;
    }

    /** Field 16 of the block device's stat file: flush requests completed. */
    private static long flushesCompleted(Path device) throws IOException {
        String[] fields = Files.readString(Path.of("/sys/block", device.getFileName().toString(), "stat"))
                .trim().split("\\s+");
        return Long.parseLong(fields[15]);
    }

    /**
     * The segment forms refuse a segment whose arena is closed, or that is confined to another thread: the SQE keeps
     * only the address, and the kernel then wrote into whatever lived there (another arena's segment, session 26).
     */
    @Test
    void segmentFormsRefuseAClosedOrForeignSegment() throws Exception {
        try (IoUringRing ring = IoUringRing.create(4)) {
            Arena gone = Arena.ofConfined();
            MemorySegment dead = gone.allocate(64, 8);
            gone.close();
            MemorySegment sqe = ring.nextSqe();
            assertThrows(IllegalStateException.class, () -> Sqe.prepRead(sqe, 0, dead, 0));
            assertThrows(IllegalStateException.class, () -> Sqe.prepWrite(sqe, 0, dead, 0));
            MemorySegment[] foreign = new MemorySegment[1];
            Thread.ofPlatform().start(() -> foreign[0] = Arena.ofConfined().allocate(64, 8)).join();
            assertThrows(WrongThreadException.class, () -> Sqe.prepRead(sqe, 0, foreign[0], 0));
            assertThrows(WrongThreadException.class, () -> Sqe.prepWrite(sqe, 0, foreign[0], 0));
            Sqe.prepNop(sqe); // the slot the refused preps left: a NOP of our own
            Sqe.setUserData(sqe, 9);
            assertEquals(1, ring.submit());
        }
    }
}
