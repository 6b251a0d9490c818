package io.blockloop.block.backend;

import io.blockloop.aio.AioContext;
import io.blockloop.block.BlockIoException;
import io.blockloop.block.BlockNode;
import io.blockloop.block.CacheMode;
import io.blockloop.block.IoVector;
import io.blockloop.block.RequestFlags;
import io.blockloop.block.file.AioMode;
import io.blockloop.block.file.FileDriver;
import io.blockloop.block.file.FileOptions;
import io.blockloop.fdmon.FdMonitorKind;
import io.blockloop.ffm.errno.Errno;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Data integrity through {@link BlockBackend} for every format × engine × cache mode: patterns written through
 * the block layer read back through it and through java.io (an independent path), with aligned, misaligned
 * (offset, length and memory) and vectored requests, past-end refusals, discard and write-zeroes.
 */
class BlockBackendDataTest {
    private static final long SIZE = 4L << 20;

    private AioContext main;
    private Path dir;

    @BeforeEach
    void setUp() throws IOException {
        main = BlockImages.mainLoop();
        dir = BlockImages.tempDir();
    }

    @AfterEach
    void tearDown() {
        main.close();
    }

    static Stream<Arguments> matrix() {
        List<Arguments> cases = new ArrayList<>();
        for (String format : List.of("raw", "file")) {
            for (AioMode aio : List.of(AioMode.IO_URING, AioMode.NATIVE, AioMode.THREADS)) {
                for (CacheMode cache : CacheMode.values()) {
                    if (aio == AioMode.NATIVE && !cache.direct()) {
                        continue; // refused, tested separately
                    }
                    cases.add(Arguments.of(format, aio, cache));
                }
            }
        }
        return cases.stream();
    }

    private BlockBackend open(String format, Path file, AioMode aio, CacheMode cache) {
        FileOptions options = FileOptions.of(file.toString()).withAio(aio).withCache(cache);
        ImageSpec spec = format.equals("raw") ? new ImageSpec.Raw(options) : new ImageSpec.File(options);
        return BlockBackend.open("test", spec, main);
    }

    @ParameterizedTest(name = "{0} aio={1} cache={2}")
    @MethodSource("matrix")
    void patternsWrittenReadBackThroughBothPaths(String format, AioMode aio, CacheMode cache) throws IOException {
        Path file = BlockImages.image(dir, "img", SIZE);
        Random random = new Random(format.hashCode() * 31L + aio.ordinal() * 7L + cache.ordinal());
        byte[] model;
        try (BlockBackend blk = open(format, file, aio, cache)) {
            assertEquals(SIZE, blk.length());
            FileDriver driver = (FileDriver) (blk.root().children().isEmpty()
                    ? blk.root().driver() : blk.root().children().getFirst().node().driver());
            assertEquals(aio, driver.engineMode());
            model = PatternWorkload.writeAndReadBack(blk, (int) SIZE, random);
        }
        assertArrayEquals(model, BlockImages.readDirect(file, 0, (int) SIZE), "file contents");
    }

    /**
     * io_uring on a ring of its own, as under a poll or epoll monitor (the ring is the loop's only with an io_uring
     * monitor): that ring runs task work cooperatively, and the monitor must still see its fd become readable.
     */
    @ParameterizedTest(name = "fdmon={0}")
    @EnumSource(value = FdMonitorKind.class, names = {"POLL", "EPOLL"})
    @Timeout(value = 120, unit = TimeUnit.SECONDS) // a ring fd that stopped waking the monitor would hang the loop
    void ioUringOnARingOfItsOwnUnderEachOtherMonitor(FdMonitorKind kind) throws IOException {
        main.close();
        main = BlockImages.mainLoop(kind);
        assertFalse(main.canShareRing(), "a " + kind + " monitor has no ring to lend");
        Path file = BlockImages.image(dir, "img", SIZE);
        byte[] model;
        try (BlockBackend blk = open("raw", file, AioMode.IO_URING, CacheMode.NONE)) {
            model = PatternWorkload.writeAndReadBack(blk, (int) SIZE, new Random(kind.ordinal()));
        }
        assertArrayEquals(model, BlockImages.readDirect(file, 0, (int) SIZE), "file contents");
    }

    @ParameterizedTest(name = "aio={0}")
    @MethodSource("engines")
    void vectoredRequestsWithMisalignedElements(AioMode aio) throws IOException {
        Path file = BlockImages.image(dir, "img", SIZE);
        try (BlockBackend blk = open("raw", file, aio, CacheMode.NONE); Arena arena = Arena.ofConfined()) {
            byte[] a = BlockImages.randomBytes(1, 4096);
            byte[] b = BlockImages.randomBytes(2, 1000);
            byte[] c = BlockImages.randomBytes(3, 3096);
            IoVector aligned = IoVector.of(BlockImages.buffer(arena, a, 0), BlockImages.buffer(arena, a, 0));
            blk.writev(8192, aligned, 0);
            IoVector odd = IoVector.of(BlockImages.buffer(arena, b, 7), BlockImages.buffer(arena, c, 0));
            blk.writev(100_000, odd, 0);

            IoVector back = IoVector.of(arena.allocate(1000, 4096), arena.allocate(3096 + 5, 4096).asSlice(5));
            blk.readv(100_000, back);
            assertArrayEquals(b, BlockImages.bytes(back.segment(0)));
            assertArrayEquals(c, BlockImages.bytes(back.segment(1)));
        }
        byte[] expected = new byte[8192];
        System.arraycopy(BlockImages.randomBytes(1, 4096), 0, expected, 0, 4096);
        System.arraycopy(BlockImages.randomBytes(1, 4096), 0, expected, 4096, 4096);
        assertArrayEquals(expected, BlockImages.readDirect(file, 8192, 8192));
    }

    @ParameterizedTest(name = "aio={0}")
    @MethodSource("engines")
    void registeredBuffersCarryTheSameDataAndOnlyIoUringTakesThem(AioMode aio) throws IOException {
        Path file = BlockImages.image(dir, "img", SIZE);
        Random random = new Random(77 + aio.ordinal());
        byte[] model = new byte[(int) SIZE];
        try (BlockBackend blk = open("raw", file, aio, CacheMode.NONE); Arena arena = Arena.ofShared()) {
            MemorySegment region = arena.allocate(1 << 20, 4096);
            assertEquals(aio == AioMode.IO_URING, blk.registerBuffer(region));
            // Writes from slices of the region (aligned ones go out fixed on io_uring, misaligned ones are bounced),
            // each read back into another slice of it.
            for (int i = 0; i < 24; i++) {
                boolean aligned = i % 2 == 0;
                int length = aligned ? 4096 * (1 + random.nextInt(16)) : 1 + random.nextInt(20_000);
                long offset = aligned ? 4096L * random.nextInt((int) (SIZE / 4096) - 16)
                        : random.nextLong(SIZE - length);
                long from = aligned ? 4096L * random.nextInt(64) : 1 + random.nextInt(400_000);
                MemorySegment src = region.asSlice(from, length);
                src.copyFrom(MemorySegment.ofArray(BlockImages.randomBytes(i, length)));
                blk.write(offset, src, 0);
                System.arraycopy(BlockImages.randomBytes(i, length), 0, model, (int) offset, length);
                MemorySegment back = region.asSlice(524_288 + (aligned ? 0 : 3), length);
                blk.read(offset, back);
                assertEquals(-1, back.mismatch(src), "read back at " + offset + " length " + length);
            }
            assertEquals(aio == AioMode.IO_URING, blk.unregisterBuffer(region));
            assertFalse(blk.unregisterBuffer(region), "not registered any more");
        }
        assertArrayEquals(model, BlockImages.readDirect(file, 0, (int) SIZE), "file contents");
    }

    static Stream<AioMode> engines() {
        return Stream.of(AioMode.IO_URING, AioMode.NATIVE, AioMode.THREADS);
    }

    @Test
    void unalignedWritesKeepTheBytesAroundThem() throws IOException {
        Path file = BlockImages.image(dir, "img", SIZE);
        byte[] background = BlockImages.randomBytes(9, 16384);
        BlockImages.writeDirect(file, 0, background);
        try (BlockBackend blk = open("raw", file, AioMode.AUTO, CacheMode.NONE); Arena arena = Arena.ofConfined()) {
            byte[] patch = {1, 2, 3, 4, 5};
            blk.write(4093, BlockImages.buffer(arena, patch, 0), 0); // crosses a 4096 boundary, 5 bytes
        }
        byte[] expected = background.clone();
        System.arraycopy(new byte[]{1, 2, 3, 4, 5}, 0, expected, 4093, 5);
        assertArrayEquals(expected, BlockImages.readDirect(file, 0, 16384));
    }

    @Test
    void concurrentOverlappingUnalignedWritesAreSerialised() throws IOException {
        Path file = BlockImages.image(dir, "img", SIZE);
        try (BlockBackend blk = open("raw", file, AioMode.AUTO, CacheMode.NONE); Arena arena = Arena.ofShared()) {
            // 64 one-byte writes into the same 512-byte sector, all in flight at once: each is a read-modify-write
            // of the sector, and without serialisation they would overwrite each other's byte.
            List<java.util.concurrent.CompletableFuture<Void>> futures = new ArrayList<>();
            for (int i = 0; i < 64; i++) {
                futures.add(blk.writeAsync(1024 + i, BlockImages.buffer(arena, new byte[]{(byte) (i + 1)}, 0), 0));
            }
            io.blockloop.aio.AioWait.waitWhile(main, () -> futures.stream().anyMatch(f -> !f.isDone()));
            futures.forEach(java.util.concurrent.CompletableFuture::join);
        }
        byte[] back = BlockImages.readDirect(file, 1024, 64);
        for (int i = 0; i < 64; i++) {
            assertEquals(i + 1, back[i], "byte " + i);
        }
    }

    @Test
    void requestsPastTheEndFailWithOffsetLengthAndSize() throws IOException {
        Path file = BlockImages.image(dir, "img", SIZE);
        try (BlockBackend blk = open("raw", file, AioMode.AUTO, CacheMode.NONE); Arena arena = Arena.ofConfined()) {
            MemorySegment buffer = arena.allocate(8192, 4096);
            BlockIoException e = assertThrows(BlockIoException.class, () -> blk.read(SIZE - 4096, buffer));
            assertEquals(Errno.EIO, e.errno());
            assertEquals("read of 8192 bytes at offset " + (SIZE - 4096) + " is past the end of 'test' (size "
                    + SIZE + " bytes)", e.getMessage());
            BlockIoException w = assertThrows(BlockIoException.class, () -> blk.write(SIZE, buffer.asSlice(0, 1), 0));
            assertTrue(w.getMessage().contains("past the end"), w.getMessage());
            assertThrows(BlockIoException.class, () -> blk.read(-1, buffer));
            blk.read(SIZE - 8192, buffer); // exactly up to the end is fine
        }
        assertEquals(SIZE, Files.size(file), "nothing was written past the end");
    }

    @Test
    void discardAndWriteZeroesReadBackAsZeroes() throws IOException {
        Path file = BlockImages.image(dir, "img", SIZE);
        BlockImages.writeDirect(file, 0, BlockImages.randomBytes(5, 1 << 20));
        try (BlockBackend blk = open("raw", file, AioMode.AUTO, CacheMode.NONE); Arena arena = Arena.ofConfined()) {
            blk.writeZeroes(1000, 200_000, 0); // unaligned ends: padded, middle through fallocate
            blk.writeZeroes(300_000, 65536, RequestFlags.MAY_UNMAP);
            blk.discard(524288, 65536); // aligned: punched out
            MemorySegment back = arena.allocate(1 << 20, 4096);
            blk.read(0, back);
            byte[] got = BlockImages.bytes(back);
            byte[] original = BlockImages.randomBytes(5, 1 << 20);
            for (int i = 0; i < got.length; i++) {
                boolean zeroed = (i >= 1000 && i < 201_000) || (i >= 300_000 && i < 365_536)
                        || (i >= 524288 && i < 589_824);
                assertEquals(zeroed ? 0 : original[i], got[i], "byte " + i);
            }
        }
    }

    /**
     * Padded requests borrow pooled bounce buffers, which keep what the last request left in them. A partial-block
     * write-zeroes writes from such a buffer, so it must zero it first: here the pool's buffers have just carried
     * random bytes read from the image.
     */
    @Test
    void aPartialBlockWriteZeroesAfterPaddedReadsWritesZeroes() throws IOException {
        Path file = BlockImages.image(dir, "img", SIZE);
        byte[] original = BlockImages.randomBytes(6, 1 << 16);
        BlockImages.writeDirect(file, 0, original);
        try (BlockBackend blk = open("raw", file, AioMode.AUTO, CacheMode.NONE); Arena arena = Arena.ofConfined()) {
            MemorySegment part = arena.allocate(1000, 4096);
            for (int i = 0; i < 4; i++) {
                blk.read(100 + 4096L * i, part); // padded: a 4 KiB bounce full of image bytes each time
            }
            blk.writeZeroes(5000, 1000, 0); // inside one block: written from a (recycled) buffer
        }
        byte[] back = BlockImages.readDirect(file, 0, 1 << 16);
        for (int i = 0; i < back.length; i++) {
            assertEquals(i >= 5000 && i < 6000 ? 0 : original[i], back[i], "byte " + i);
        }
    }

    @Test
    void nativeAioWithoutODirectIsRefused() throws IOException {
        Path file = BlockImages.image(dir, "img", SIZE);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> open("raw", file, AioMode.NATIVE, CacheMode.WRITEBACK));
        assertEquals("aio=native requires cache=none or cache=directsync (O_DIRECT)", e.getMessage());
    }

    @Test
    void readOnlyImageRefusesWrites() throws IOException {
        Path file = BlockImages.image(dir, "img", SIZE);
        FileOptions options = FileOptions.of(file.toString()).withReadOnly(true);
        try (BlockBackend blk = BlockBackend.open("ro", new ImageSpec.Raw(options), main);
             Arena arena = Arena.ofConfined()) {
            BlockIoException e = assertThrows(BlockIoException.class,
                    () -> blk.write(0, arena.allocate(512, 512), 0));
            assertEquals(Errno.EPERM, e.errno());
            blk.read(0, arena.allocate(512, 512));
        }
    }

    @Test
    void rawWindowMapsOntoItsOffset() throws IOException {
        Path file = BlockImages.image(dir, "img", SIZE);
        FileOptions options = FileOptions.of(file.toString());
        try (BlockBackend blk = BlockBackend.open("win", new ImageSpec.Raw(options, 1 << 20, 1 << 20), main);
             Arena arena = Arena.ofConfined()) {
            assertEquals(1 << 20, blk.length());
            blk.write(0, BlockImages.buffer(arena, new byte[]{42}, 0), 0);
            assertThrows(BlockIoException.class, () -> blk.read(1 << 20, arena.allocate(1)));
        }
        assertEquals(42, BlockImages.readDirect(file, 1 << 20, 1)[0]);
        assertFalse(BlockImages.readDirect(file, 0, 1)[0] == 42);
    }

    /**
     * A window that starts inside a block of the O_DIRECT file (offset 1) and runs to its end: writes at the
     * window's tail stay inside the file. The raw node used to pad them to the file's 4 KiB in its own
     * coordinates, so a 1-byte write at the end wrote a block past the file's end and grew the image.
     */
    @Test
    void aWindowStartingInsideABlockNeverWritesPastTheFile() throws IOException {
        int size = (int) SIZE;
        Path file = BlockImages.image(dir, "img", size);
        byte[] before = BlockImages.randomBytes(17, size);
        BlockImages.writeDirect(file, 0, before);
        try (BlockBackend blk = BlockBackend.open("win", new ImageSpec.Raw(FileOptions.of(file.toString()), 1, -1),
                main); Arena arena = Arena.ofConfined()) {
            long length = blk.length();
            assertEquals(size - 1, length);
            blk.write(length - 1, BlockImages.buffer(arena, new byte[]{'Z'}, 0), 0);
            blk.writeZeroes(length - 4097, 4096, 0);
            MemorySegment tail = arena.allocate(4097, 4096);
            blk.read(length - 4097, tail);
            byte[] expectedTail = new byte[4097];
            expectedTail[4096] = 'Z';
            assertArrayEquals(expectedTail, BlockImages.bytes(tail));
        }
        assertEquals(size, Files.size(file), "the image keeps its size");
        byte[] after = BlockImages.readDirect(file, 0, size);
        byte[] expected = before.clone();
        Arrays.fill(expected, size - 4097, size - 1, (byte) 0);
        expected[size - 1] = 'Z';
        assertArrayEquals(expected, after, "only the written bytes changed");
    }

    @Test
    void nullDeviceReadsZeroesAndDropsWrites() {
        try (BlockBackend blk = BlockBackend.open("null", new ImageSpec.Null(1 << 30, true), main);
             Arena arena = Arena.ofConfined()) {
            MemorySegment buffer = arena.allocate(4096);
            buffer.fill((byte) 7);
            blk.write(0, buffer, 0);
            blk.read(0, buffer);
            assertArrayEquals(new byte[4096], BlockImages.bytes(buffer));
            assertEquals(1L << 30, blk.length());
        }
    }

    /**
     * The largest node (QEMU's limit, 2^63 minus 1 GiB) takes requests at its very end: a discard in its last GiB
     * spun for ever when the device could be longer, as its pieces' ends overflowed. Longer devices are refused.
     */
    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS) // the hang it guards against
    void theLargestNullDeviceTakesRequestsAtItsEndAndALongerOneIsRefused() {
        long max = BlockNode.MAX_LENGTH;
        try (BlockBackend blk = BlockBackend.open("null", new ImageSpec.Null(max, true), main);
             Arena arena = Arena.ofConfined()) {
            blk.discard(max - 700, 700);
            blk.discard(max - (3L << 30), 3L << 30);
            blk.writeZeroes(max - 4096, 4096, 0);
            blk.read(max - 512, arena.allocate(512));
            BlockIoException past = assertThrows(BlockIoException.class, () -> blk.discard(max - 512, 513));
            assertEquals(Errno.EIO, past.errno());
        }
        IllegalArgumentException tooLong = assertThrows(IllegalArgumentException.class,
                () -> BlockBackend.open("null", new ImageSpec.Null(max + 1, true), main));
        assertEquals("null device size " + (max + 1) + " is too large: at most " + max + " bytes",
                tooLong.getMessage());
    }
}
