package io.blockloop.block.graphchange;

import io.blockloop.aio.AioContext;
import io.blockloop.aio.IOThread;
import io.blockloop.aio.MainLoop;
import io.blockloop.block.BlockIoException;
import io.blockloop.block.IoVector;
import io.blockloop.block.RequestFlags;
import io.blockloop.block.backend.BlockBackend;
import io.blockloop.block.backend.ImageSpec;
import io.blockloop.block.file.FileOptions;
import io.blockloop.fdmon.FdMonitorKind;
import io.blockloop.ffm.errno.Errno;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.RandomAccessFile;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * QEMU's test-block-iothread.c /sync-op/*: every synchronous BlockBackend call made from the main loop on a graph
 * living in an IOThread, with its success and its early errors.
 */
class SyncOpsInIoThreadTest {
    private AioContext main;
    private IOThread io;
    private BlockBackend blk;
    private Arena arena;

    @BeforeEach
    void setUp() throws Exception {
        main = MainLoop.init(FdMonitorKind.AUTO);
        io = new IOThread("sync-op").start();
        Path dir = Files.createTempDirectory(Files.createDirectories(Path.of("target", "block-tests")), "sync");
        Path file = dir.resolve("img");
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.setLength(1 << 20);
        }
        blk = BlockBackend.open("sync", new ImageSpec.Raw(FileOptions.of(file.toString())), io.context());
        arena = Arena.ofShared();
    }

    @AfterEach
    void tearDown() {
        blk.close();
        arena.close();
        io.close();
        main.close();
    }

    private MemorySegment buffer(int size) {
        return arena.allocate(size, 4096);
    }

    @Test
    void preadAndPwrite() {
        blk.write(0, buffer(512), 0);
        blk.write(512, buffer(512), RequestFlags.FUA);
        blk.read(0, buffer(512));
        assertEquals(Errno.EINVAL, assertThrows(BlockIoException.class, () -> blk.read(-2, buffer(512))).errno());
        assertEquals(Errno.EINVAL, assertThrows(BlockIoException.class, () -> blk.write(-2, buffer(512), 0)).errno());
    }

    @Test
    void preadvAndPwritev() {
        blk.writev(0, IoVector.of(buffer(512), buffer(512)), 0);
        blk.readv(0, IoVector.of(buffer(512), buffer(512)));
        assertEquals(Errno.EIO, assertThrows(BlockIoException.class,
                () -> blk.readv(1 << 20, IoVector.of(buffer(512)))).errno());
    }

    @Test
    void pwriteZeroes() {
        blk.writeZeroes(0, 4096, 0);
        blk.writeZeroes(100, 50, RequestFlags.MAY_UNMAP);
        assertEquals(Errno.EINVAL, assertThrows(BlockIoException.class, () -> blk.writeZeroes(-2, 512, 0)).errno());
    }

    @Test
    void pdiscard() {
        blk.discard(0, 65536);
        blk.discard(3, 5); // partial block: advisory, succeeds
        assertEquals(Errno.EIO, assertThrows(BlockIoException.class, () -> blk.discard(1 << 20, 512)).errno());
    }

    @Test
    void flushAndLength() {
        blk.flush(); // nothing written: skipped
        blk.write(0, buffer(4096), 0);
        blk.flush();
        assertEquals(1 << 20, blk.length());
    }

    @Test
    void readOnlyFlushIsASuccessAndWritesAreRefused() throws Exception {
        Path other = Files.createTempFile(Path.of("target", "block-tests"), "ro", ".img");
        try (RandomAccessFile raf = new RandomAccessFile(other.toFile(), "rw")) {
            raf.setLength(65536);
        }
        try (BlockBackend ro = BlockBackend.open("ro",
                new ImageSpec.Raw(FileOptions.of(other.toString()).withReadOnly(true)), io.context())) {
            ro.flush();
            assertEquals(Errno.EPERM, assertThrows(BlockIoException.class, () -> ro.discard(0, 512)).errno());
            assertEquals(Errno.EPERM, assertThrows(BlockIoException.class, () -> ro.writeZeroes(0, 512, 0)).errno());
        }
    }
}
