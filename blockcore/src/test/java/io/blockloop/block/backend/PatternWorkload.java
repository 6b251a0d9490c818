package io.blockloop.block.backend;

import io.blockloop.block.RequestFlags;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/**
 * The data-integrity workload of the block-layer tests: random patterns written through a {@link BlockBackend}
 * and read back through it, checked against a model of the whole image. Test thread (the blocking API).
 */
final class PatternWorkload {
    private static final int WRITES = 40;

    private PatternWorkload() {
    }

    /**
     * Writes {@value #WRITES} patterns through {@code blk}: even ones at multiples of 512 bytes (aligned for a
     * 512-byte device, padded on a 4096-byte one), odd ones at any offset and length from a buffer at an odd
     * address; every fifth is FUA. Then flushes, reads each range back through {@code blk} into a misaligned
     * buffer and compares it with the model. Returns the model of the image (zeroes where nothing was written)
     * for the caller to compare with an independent read of the storage.
     */
    static byte[] writeAndReadBack(BlockBackend blk, int size, Random random) {
        byte[] model = new byte[size];
        long[][] written = new long[WRITES][];
        try (Arena arena = Arena.ofConfined()) {
            for (int i = 0; i < WRITES; i++) {
                boolean sectors = i % 2 == 0;
                int length = sectors ? 512 * (1 + random.nextInt(64)) : 1 + random.nextInt(70_000);
                long offset = sectors ? 512L * random.nextInt((size - length) / 512) : random.nextLong(size - length);
                byte[] bytes = BlockImages.randomBytes(i, length);
                blk.write(offset, BlockImages.buffer(arena, bytes, sectors ? 0 : random.nextInt(1, 4096)),
                        i % 5 == 0 ? RequestFlags.FUA : 0);
                System.arraycopy(bytes, 0, model, (int) offset, length);
                written[i] = new long[]{offset, length};
            }
            blk.flush();
            // Later writes may overlap earlier ones: each range is compared with the model, not with its pattern.
            for (long[] w : written) {
                MemorySegment back = arena.allocate(w[1] + 3, 4096).asSlice(3, w[1]);
                blk.read(w[0], back);
                assertArrayEquals(Arrays.copyOfRange(model, (int) w[0], (int) (w[0] + w[1])), BlockImages.bytes(back),
                        "block layer read at " + w[0] + " length " + w[1]);
            }
        }
        return model;
    }
}
