package io.blockloop.block.backend;

import io.blockloop.aio.AioContext;
import io.blockloop.aio.AioWait;
import io.blockloop.block.CacheMode;
import io.blockloop.block.file.AioMode;
import io.blockloop.block.file.FileOptions;
import io.blockloop.ffm.testing.LoopDevice;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The block layer on a disk with 4096-byte logical sectors (a 4Kn drive; here a loop device attached with
 * {@code --sector-size 4096}), where the kernel refuses O_DIRECT requests that are not 4096-aligned. So a request
 * at a multiple of 512 bytes, aligned on a 512-byte disk, is padded with a read-modify-write of whole 4096-byte
 * sectors, and writes into the same sector must be serialised. Each engine with {@code cache=none}; the storage
 * is read back through java.io on the device node, an independent path.
 */
@Timeout(120)
class BlockBackendOn4KiBSectorsTest {
    private static final int SIZE = 4 << 20;

    private AioContext main;
    private LoopDevice device;

    @BeforeEach
    void setUp() throws IOException, InterruptedException {
        main = BlockImages.mainLoop();
        device = LoopDevice.attach(BlockImages.image(BlockImages.tempDir(), "disk-4kn", SIZE), 4096);
    }

    @AfterEach
    void tearDown() throws IOException, InterruptedException {
        try {
            main.close();
        } finally {
            device.close();
        }
    }

    private BlockBackend open(AioMode aio) {
        FileOptions options = FileOptions.of(device.path().toString()).withAio(aio).withCache(CacheMode.NONE);
        return BlockBackend.open("4kn", new ImageSpec.Raw(options), main);
    }

    @ParameterizedTest(name = "aio={0}")
    @EnumSource(value = AioMode.class, names = {"IO_URING", "NATIVE", "THREADS"})
    void patternsAt512ByteMultiplesAndAnywhereReadBackOnA4KnDisk(AioMode aio) throws IOException {
        byte[] model;
        try (BlockBackend blk = open(aio)) {
            assertEquals(4096, blk.root().children().getFirst().node().limits().requestAlignment(),
                    "request alignment of a 4Kn disk's file node, which pads (its raw parent passes requests down)");
            model = PatternWorkload.writeAndReadBack(blk, SIZE, new Random(4096L + aio.ordinal()));
        }
        assertArrayEquals(model, BlockImages.readDirect(device.path(), 0, SIZE), "device contents");
    }

    @Test
    void concurrentWritesIntoOneSectorAreSerialised() throws IOException {
        try (BlockBackend blk = open(AioMode.AUTO); Arena arena = Arena.ofShared()) {
            // Eight 512-byte writes filling one 4096-byte sector, all in flight at once. Each is a read-modify-write
            // of the whole sector: without serialisation, each would write back the others' old bytes.
            List<CompletableFuture<Void>> futures = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                futures.add(blk.writeAsync(8192 + 512L * i,
                        BlockImages.buffer(arena, BlockImages.randomBytes(100 + i, 512), 0), 0));
            }
            AioWait.waitWhile(main, () -> futures.stream().anyMatch(f -> !f.isDone()));
            futures.forEach(CompletableFuture::join);
        }
        byte[] back = BlockImages.readDirect(device.path(), 8192, 4096);
        for (int i = 0; i < 8; i++) {
            byte[] piece = new byte[512];
            System.arraycopy(back, 512 * i, piece, 0, 512);
            assertArrayEquals(BlockImages.randomBytes(100 + i, 512), piece, "512-byte piece " + i);
        }
    }
}
