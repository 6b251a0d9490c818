package io.blockloop.ffm.libc;

import io.blockloop.ffm.errno.NativeCallException;
import io.blockloop.ffm.memory.AlignedBuffer;
import io.blockloop.ffm.testing.Commands;
import io.blockloop.ffm.testing.LoopDevice;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BlockDeviceTest {
    @TempDir
    Path dir;

    @Test
    void ioctlsOnALoopDeviceMatchBlockdev() throws Exception {
        Path backing = sparseFile("disk.img", 16L << 20);
        try (LoopDevice loop = LoopDevice.attach(backing)) {
            String dev = loop.path().toString();
            int fd = FileIo.open(dev, OpenFlags.O_RDWR | OpenFlags.O_DIRECT | OpenFlags.O_CLOEXEC, 0);
            try (AlignedBuffer buf = AlignedBuffer.allocate(4096, 4096)) {
                assertEquals(Long.parseLong(Commands.run("blockdev", "--getsize64", dev).trim()), BlockDevice.size(fd));
                assertEquals(16L << 20, BlockDevice.size(fd));
                assertEquals(Integer.parseInt(Commands.run("blockdev", "--getss", dev).trim()), BlockDevice.logicalBlockSize(fd));
                assertEquals(Integer.parseInt(Commands.run("blockdev", "--getpbsz", dev).trim()), BlockDevice.physicalBlockSize(fd));
                assertTrue(FileIo.fstat(fd).isBlockDevice());
                assertEquals(false, BlockDevice.isReadOnly(fd));

                buf.segment().fill((byte) 0x5a);
                assertEquals(4096, FileIo.pwrite(fd, buf.segment(), 1 << 20));
                assertEquals(0, BlockDevice.zeroOutOrErrno(fd, 1 << 20, 4096));
                assertEquals(4096, FileIo.pread(fd, buf.segment(), 1 << 20));
                assertEquals(-1, buf.segment().mismatch(MemorySegment.ofArray(new byte[4096])), "zeroed out");

                int discard = BlockDevice.discardOrErrno(fd, 0, 1 << 20);
                assertTrue(discard == 0 || discard == -io.blockloop.ffm.errno.Errno.EOPNOTSUPP,
                        "a loop device discards (punches the backing file) or says it cannot: " + discard);
            } finally {
                FileIo.close(fd);
            }
        }
    }

    /** A read-only device opens O_RDWR all the same; BLKROGET tells, as {@code blockdev --getro} does. */
    @Test
    void readOnlyLoopDeviceSaysSo() throws Exception {
        Path backing = sparseFile("ro.img", 1L << 20);
        try (LoopDevice loop = LoopDevice.attachReadOnly(backing)) {
            String dev = loop.path().toString();
            int fd = FileIo.open(dev, OpenFlags.O_RDWR | OpenFlags.O_CLOEXEC, 0);
            try {
                assertEquals("1", Commands.run("blockdev", "--getro", dev).trim());
                assertEquals(true, BlockDevice.isReadOnly(fd));
            } finally {
                FileIo.close(fd);
            }
        }
    }

    private Path sparseFile(String name, long size) throws IOException {
        Path file = dir.resolve(name);
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(size);
        }
        return file;
    }

    @Test
    void ioctlOnARegularFileFailsWithENOTTY() throws Exception {
        Path file = dir.resolve("plain");
        java.nio.file.Files.write(file, new byte[512]);
        int fd = FileIo.open(file.toString(), OpenFlags.O_RDONLY, 0);
        try {
            NativeCallException e = assertThrows(NativeCallException.class, () -> BlockDevice.size(fd));
            assertEquals("ioctl(BLKGETSIZE64)", e.call());
            assertEquals("ENOTTY", e.symbol());
        } finally {
            FileIo.close(fd);
        }
    }
}
