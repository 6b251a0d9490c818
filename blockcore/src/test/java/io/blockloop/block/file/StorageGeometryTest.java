package io.blockloop.block.file;

import io.blockloop.ffm.errno.NativeCallException;
import io.blockloop.ffm.testing.Commands;
import io.blockloop.ffm.testing.LoopDevice;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class StorageGeometryTest {
    @TempDir
    Path dir;

    @ParameterizedTest(name = "sector size {0}")
    @ValueSource(ints = {512, 4096})
    void loopDeviceGeometryMatchesTheKernelAndAlignmentFollowsTheSectorSize(int sectorSize) throws Exception {
        Path backing = sparseFile("disk-" + sectorSize, 32L << 20);
        String dev = Commands.run("losetup", "-f", "--show", "--direct-io=on", "--sector-size",
                Integer.toString(sectorSize), backing.toString()).trim();
        try {
            StorageGeometry g = StorageGeometry.of(dev);
            assertTrue(g.blockDevice());
            assertTrue(g.directIo());
            assertEquals(32L << 20, g.size());
            assertEquals(Long.parseLong(Commands.run("blockdev", "--getsize64", dev).trim()), g.size());
            assertEquals(sectorSize, g.logicalBlockSize());
            assertEquals(Integer.parseInt(Commands.run("blockdev", "--getpbsz", dev).trim()), g.physicalBlockSize());
            assertEquals(sectorSize, g.alignment().requestAlignment(), "O_DIRECT request alignment = logical sector size");
            assertTrue(g.alignment().memoryAlignment() >= 512 && g.alignment().memoryAlignment() <= sectorSize,
                    "memory alignment " + g.alignment().memoryAlignment());
        } finally {
            Commands.run("losetup", "-d", dev);
        }
    }

    @Test
    void regularFileOnExt4ProbesAWorkingAlignment() throws Exception {
        Path file = Files.write(dir.resolve("img"), new byte[1 << 20]);
        StorageGeometry g = StorageGeometry.of(file.toString());
        assertFalse(g.blockDevice());
        assertTrue(g.directIo());
        assertEquals(1 << 20, g.size());
        int request = g.alignment().requestAlignment();
        assertTrue(request == 512 || request == 1024 || request == 2048 || request == 4096, "request alignment " + request);
        assertEquals(request, g.logicalBlockSize());
    }

    @Test
    void probingADirectLoopDeviceNeverWrites() throws Exception {
        Path backing = sparseFile("ro", 4L << 20);
        try (LoopDevice loop = LoopDevice.attach(backing)) {
            StorageGeometry.of(loop.path().toString());
        }
        assertEquals(0, Files.readAllBytes(backing)[0]);
        assertEquals(4L << 20, Files.size(backing));
    }

    @Test
    void missingPathAndDirectoryAreClearErrors() {
        NativeCallException e = assertThrows(NativeCallException.class,
                () -> StorageGeometry.of(dir.resolve("nope").toString()));
        assertEquals("ENOENT", e.symbol());
        IllegalArgumentException notFile = assertThrows(IllegalArgumentException.class,
                () -> StorageGeometry.of(dir.toString()));
        assertEquals("'" + dir + "' is neither a regular file nor a block device", notFile.getMessage());
    }

    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD) // a read-only open of a FIFO would block
    void fifoIsRefusedWithoutWaitingForAWriter() throws Exception {
        Path fifo = dir.resolve("fifo");
        Commands.run("mkfifo", fifo.toString());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> StorageGeometry.of(fifo.toString()));
        assertEquals("'" + fifo + "' is neither a regular file nor a block device", e.getMessage());
    }

    private Path sparseFile(String name, long size) throws Exception {
        Path p = dir.resolve(name);
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.setLength(size);
        }
        return p;
    }
}
