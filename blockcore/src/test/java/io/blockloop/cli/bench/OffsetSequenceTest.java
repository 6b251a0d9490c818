package io.blockloop.cli.bench;

import java.util.List;

import org.junit.jupiter.api.Test;

import java.util.BitSet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class OffsetSequenceTest {
    @Test
    void sequentialWalksAndWrapsAsQemuImgBench() {
        // 10 blocks of 4 KiB: qemu wraps modulo (size - bufsize), so offsets 0..8 blocks, then 0 again.
        OffsetSequence s = OffsetSequence.sequential(0, 4096, 4096, 10 * 4096);
        for (int round = 0; round < 3; round++) {
            for (int block = 0; block < 9; block++) {
                assertEquals(block * 4096L, s.next());
            }
        }
        OffsetSequence fromOffset = OffsetSequence.sequential(8192, 12288, 4096, 10 * 4096);
        assertEquals(8192, fromOffset.next());
        assertEquals(20480, fromOffset.next());
        assertEquals(32768, fromOffset.next());
        assertEquals((32768 + 12288) % (9 * 4096), fromOffset.next());
        OffsetSequence tiny = OffsetSequence.sequential(0, 4096, 4096, 4096);
        assertEquals(0, tiny.next());
        assertEquals(0, tiny.next());
        OffsetSequence still = OffsetSequence.sequential(4096, 0, 4096, 1 << 20);
        assertEquals(4096, still.next());
        assertEquals(4096, still.next());
    }

    @Test
    void randomOffsetsStayInRangeAlignedAndCoverIt() {
        long image = 1L << 20; // 256 blocks of 4 KiB
        long offset = 3 * 4096;
        OffsetSequence s = OffsetSequence.random(offset, 4096, 4096, image, 1);
        long highest = s.highest();
        assertEquals(image - 4096, highest);
        BitSet seen = new BitSet();
        for (int i = 0; i < 20_000; i++) {
            long o = s.next();
            assertTrue(o >= offset && o + 4096 <= image, "offset " + o + " out of range");
            assertEquals(0, (o - offset) % 4096, "offset " + o + " not aligned");
            seen.set((int) ((o - offset) / 4096));
        }
        assertEquals(253, seen.cardinality(), "every block between OFFSET and the end is drawn");
    }

    @Test
    void randomOffsetsWithAStepAndASizeThatDoNotDivideTheImage() {
        long image = 1_000_000;
        OffsetSequence s = OffsetSequence.random(512, 1536, 8192, image, 99);
        long highest = s.highest();
        assertTrue(highest + 8192 <= image && highest + 1536 + 8192 > image, "highest " + highest);
        for (int i = 0; i < 10_000; i++) {
            long o = s.next();
            assertTrue(o >= 512 && o <= highest && (o - 512) % 1536 == 0, "offset " + o);
        }
    }

    @Test
    void randomIsRoughlyUniformAndRepeatsWithItsSeed() {
        int blocks = 64;
        OffsetSequence s = OffsetSequence.random(0, 1, 1, blocks, 5);
        int[] counts = new int[blocks];
        int draws = 640_000;
        for (int i = 0; i < draws; i++) {
            counts[(int) s.next()]++;
        }
        for (int c : counts) {
            assertEquals(draws / blocks, c, draws / blocks * 0.05); // 10000 +- 500: ~5 sigma
        }
        OffsetSequence a = OffsetSequence.random(0, 4096, 4096, 1L << 30, 7);
        OffsetSequence b = OffsetSequence.random(0, 4096, 4096, 1L << 30, 7);
        OffsetSequence c = OffsetSequence.random(0, 4096, 4096, 1L << 30, 8);
        boolean differs = false;
        for (int i = 0; i < 100; i++) {
            long x = a.next();
            assertEquals(x, b.next());
            differs |= x != c.next();
        }
        assertTrue(differs, "another seed, another sequence");
    }

    @Test
    void restartEveryRepeatsTheFirstOffsetsThenRewinds() {
        for (OffsetSequence seq : List.of(OffsetSequence.sequential(8192, 4096, 4096, 1 << 20),
                OffsetSequence.random(8192, 4096, 4096, 1 << 20, 7))) {
            long[] first = new long[5];
            for (int i = 0; i < first.length; i++) {
                first[i] = seq.next();
            }
            seq.restartEvery(3); // starts over now, and after every 3
            for (int round = 0; round < 4; round++) {
                for (int i = 0; i < 3; i++) {
                    assertEquals(first[i], seq.next(), "round " + round + ", offset " + i);
                }
            }
            seq.restartEvery(0); // starts over, then walks on
            for (long expected : first) {
                assertEquals(expected, seq.next());
            }
        }
    }

    @Test
    void theWalkDoesNotOverflowOnAnImageNear8EiB() {
        long image = Long.MAX_VALUE - 4095;
        long start = image - 4096 - 4096;
        OffsetSequence seq = OffsetSequence.sequential(start, Integer.MAX_VALUE, 4096, image);
        for (int i = 0; i < 1000; i++) {
            long o = seq.next();
            assertTrue(o >= 0 && o <= image - 4096, "offset " + o);
        }
        assertEquals(20, OffsetSequence.addModulo(Long.MAX_VALUE - 10, Long.MAX_VALUE - 20, Long.MAX_VALUE - 25));
        assertEquals(0, OffsetSequence.addModulo(10, 0, 10));
        assertEquals(3, OffsetSequence.addModulo(7, 6, 10));
    }

    @Test
    void randomNeedsRoomForOneRequest() {
        assertThrows(IllegalArgumentException.class, () -> OffsetSequence.random(4096, 4096, 4096, 4096, 1));
        OffsetSequence exact = OffsetSequence.random(0, 4096, 4096, 4096, 1);
        assertEquals(0, exact.next());
        assertNotEquals(-1, exact.highest());
    }
}
