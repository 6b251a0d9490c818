package io.blockloop.ffm.libc;

import io.blockloop.ffm.errno.Errno;
import io.blockloop.ffm.errno.NativeCallException;
import io.blockloop.ffm.memory.AlignedBuffer;
import io.blockloop.ffm.testing.Posix;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class FileIoTest {
    @TempDir
    Path dir;

    @Test
    void directOpenAndAlignedPreadReturnTheFileBytes() throws IOException {
        byte[] content = new byte[64 * 1024];
        new Random(1).nextBytes(content);
        Path file = Files.write(dir.resolve("data"), content);

        int fd = FileIo.open(file.toString(), OpenFlags.O_RDONLY | OpenFlags.O_DIRECT | OpenFlags.O_CLOEXEC, 0);
        try (AlignedBuffer buf = AlignedBuffer.allocate(8192, 4096)) {
            // Oracle: JNR-POSIX reads the open flags back through its own native path.
            int flags = Posix.get().fcntl(fd, jnr.constants.platform.Fcntl.F_GETFL);
            assertEquals(OpenFlags.O_DIRECT, flags & OpenFlags.O_DIRECT, "O_DIRECT is set on the fd");
            assertEquals(OpenFlags.O_RDONLY, flags & OpenFlags.O_ACCMODE);
            assertEquals(flags, Fcntl.getFlags(fd), "our fcntl agrees with JNR-POSIX");

            assertEquals(8192, FileIo.pread(fd, buf.segment(), 16384));
            byte[] expected = java.util.Arrays.copyOfRange(content, 16384, 16384 + 8192);
            assertArrayEquals(expected, buf.segment().toArray(ValueLayout.JAVA_BYTE));
            assertEquals(content.length, FileIo.fstat(fd).size());
            assertTrue(FileIo.fstat(fd).isRegularFile());
        } finally {
            FileIo.close(fd);
        }
    }

    @Test
    void misalignedDirectReadFailsWithEinval() throws IOException {
        Path file = Files.write(dir.resolve("data"), new byte[8192]);
        int fd = FileIo.open(file.toString(), OpenFlags.O_RDONLY | OpenFlags.O_DIRECT, 0);
        try (AlignedBuffer buf = AlignedBuffer.allocate(8192, 4096)) {
            MemorySegment misaligned = buf.segment().asSlice(1, 4096);
            NativeCallException e = assertThrows(NativeCallException.class, () -> FileIo.pread(fd, misaligned, 0));
            assertEquals("pread", e.call());
            assertEquals("EINVAL", e.symbol());
            assertEquals(-Errno.EINVAL, FileIo.preadOrErrno(fd, misaligned, 4096, 0));
        } finally {
            FileIo.close(fd);
        }
    }

    @Test
    void vectoredWriteWithDsyncThenVectoredRead() throws IOException {
        Path file = dir.resolve("v");
        int fd = FileIo.open(file.toString(), OpenFlags.O_RDWR | OpenFlags.O_CREAT | OpenFlags.O_DIRECT, 0644);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment a = arena.allocate(4096, 4096).fill((byte) 'a');
            MemorySegment b = arena.allocate(4096, 4096).fill((byte) 'b');
            MemorySegment iov = arena.allocate(IoVec.SIZE * 2);
            IoVec.set(iov, 0, a);
            IoVec.set(iov, 1, b);
            assertEquals(8192, FileIo.pwritev(fd, iov, 2, 4096, FileIo.RWF_DSYNC));
            FileIo.fdatasync(fd);
            FileIo.fsync(fd);
            a.fill((byte) 0);
            b.fill((byte) 0);
            assertEquals(8192, FileIo.preadv(fd, iov, 2, 4096, 0));
            assertEquals('a', a.get(ValueLayout.JAVA_BYTE, 4095));
            assertEquals('b', b.get(ValueLayout.JAVA_BYTE, 0));
            assertEquals(12288, Files.size(file));
        } finally {
            FileIo.close(fd);
        }
    }

    @Test
    void fallocatePunchHoleAndFtruncate() throws IOException {
        Path file = dir.resolve("sparse");
        int fd = FileIo.open(file.toString(), OpenFlags.O_RDWR | OpenFlags.O_CREAT, 0644);
        try (Arena arena = Arena.ofConfined()) {
            FileIo.fallocate(fd, 0, 0, 1 << 20);
            assertEquals(1 << 20, FileIo.fstat(fd).size());
            assertTrue(FileIo.fstat(fd).blocks() >= (1 << 20) / 512, "space is allocated");
            MemorySegment ones = arena.allocate(4096).fill((byte) 1);
            FileIo.pwrite(fd, ones, 8192);
            FileIo.fallocate(fd, FileIo.FALLOC_FL_PUNCH_HOLE | FileIo.FALLOC_FL_KEEP_SIZE, 8192, 4096);
            MemorySegment back = arena.allocate(4096);
            FileIo.pread(fd, back, 8192);
            assertEquals(-1, back.mismatch(arena.allocate(4096)), "a punched hole reads as zeroes");
            FileIo.ftruncate(fd, 12345);
            assertEquals(12345, Posix.get().fstat(fd).st_size(), "JNR-POSIX sees the new size");
        } finally {
            FileIo.close(fd);
        }
    }

    @Test
    void errorsNameCallAndErrno() {
        NativeCallException e = assertThrows(NativeCallException.class,
                () -> FileIo.open(dir.resolve("missing").toString(), OpenFlags.O_RDONLY, 0));
        assertEquals("ENOENT", e.symbol());
        assertTrue(e.getMessage().startsWith("open: ENOENT (No such file or directory): "), e.getMessage());

        e = assertThrows(NativeCallException.class, () -> FileIo.close(-1));
        assertEquals("close: EBADF (Bad file descriptor)", e.getMessage());
        e = assertThrows(NativeCallException.class, () -> FileIo.fsync(-1));
        assertEquals(Errno.EBADF, e.errno());
        e = assertThrows(NativeCallException.class, () -> FileIo.fallocate(-1, 0, 0, 1));
        assertEquals("fallocate", e.call());
    }

    @Test
    void errnoSymbolsAndTexts() {
        assertEquals("EAGAIN", Errno.symbol(Errno.EAGAIN));
        assertEquals("EOPNOTSUPP", Errno.symbol(95));
        assertEquals("E9999", Errno.symbol(9999));
        assertEquals("Invalid argument", Errno.text(Errno.EINVAL));
        assertEquals("io_uring_setup: EPERM (Operation not permitted)",
                new NativeCallException("io_uring_setup", Errno.EPERM).getMessage());
    }
}
