package io.blockloop.block;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link BounceBuffers} lends aligned memory of exactly the size asked, never the same memory twice at once, takes
 * it back once, and reuses it: the next request of the same size gets the same segment and vector.
 */
class BounceBuffersTest {

    @Test
    void lendsExactlyTheSizeAskedAlignedWithItsVector() {
        for (long size : new long[]{1, 512, 4095, 4096, 4097, 65536 + 512, BounceBuffers.POOLED_UP_TO}) {
            try (BounceBuffers.Buffer b = BounceBuffers.acquire(size, 4096)) {
                assertEquals(size, b.memory().byteSize());
                assertEquals(0, b.memory().address() % 4096, "aligned: " + size);
                assertEquals(1, b.vector().count());
                assertEquals(size, b.vector().size());
                assertSame(b.memory(), b.vector().segment(0));
            }
        }
    }

    @Test
    void sizeClassesArePowersOfTwoFrom4KiB() {
        assertEquals(0, BounceBuffers.sizeClass(1));
        assertEquals(0, BounceBuffers.sizeClass(4096));
        assertEquals(1, BounceBuffers.sizeClass(4097));
        assertEquals(2, BounceBuffers.sizeClass(3 * 4096));
        assertEquals(8, BounceBuffers.sizeClass(BounceBuffers.POOLED_UP_TO));
    }

    @Test
    void aReleasedBufferIsReusedAndTheSameSizeAllocatesNothingNew() {
        BounceBuffers.Buffer first = BounceBuffers.acquire(6000, 512);
        var memory = first.memory();
        var vector = first.vector();
        first.close();
        try (BounceBuffers.Buffer again = BounceBuffers.acquire(6000, 512)) {
            assertSame(first, again);
            assertSame(memory, again.memory(), "same size: the same segment");
            assertSame(vector, again.vector());
        }
        try (BounceBuffers.Buffer other = BounceBuffers.acquire(5000, 512)) { // same size class, other size
            assertSame(first, other);
            assertEquals(5000, other.memory().byteSize());
            assertEquals(memory.address(), other.memory().address());
        }
    }

    @Test
    void headAndTailVectorsCoverTheEndsAndAreReusedWhileTheSizesRepeat() {
        BounceBuffers.Buffer b = BounceBuffers.acquire(3 * 4096, 4096);
        IoVector head = b.headVector(4096);
        IoVector tail = b.tailVector(4096);
        assertEquals(b.memory().address(), head.segment(0).address());
        assertEquals(4096, head.size());
        assertEquals(b.memory().address() + 2 * 4096, tail.segment(0).address());
        assertEquals(4096, tail.size());
        b.close();
        try (BounceBuffers.Buffer again = BounceBuffers.acquire(3 * 4096, 4096)) {
            assertSame(head, again.headVector(4096));
            assertSame(head.segment(0), again.headVector(4096).segment(0), "same size: the same segment");
            assertSame(tail.segment(0), again.tailVector(4096).segment(0));
        }
        try (BounceBuffers.Buffer smaller = BounceBuffers.acquire(2 * 4096, 4096)) { // same buffer, other size
            assertEquals(smaller.memory().address() + 4096, smaller.tailVector(4096).segment(0).address(),
                    "the tail follows the size lent");
            assertEquals(512, smaller.headVector(512).size());
            assertThrows(IllegalArgumentException.class, () -> smaller.tailVector(3 * 4096));
            assertThrows(IllegalArgumentException.class, () -> smaller.headVector(0));
        }
    }

    @Test
    void buffersLentAtTheSameTimeNeverOverlap() {
        List<BounceBuffers.Buffer> lent = new ArrayList<>();
        for (int i = 0; i < BounceBuffers.KEPT_PER_SIZE + 3; i++) {
            lent.add(BounceBuffers.acquire(4096, 4096));
        }
        for (int i = 0; i < lent.size(); i++) {
            for (int j = i + 1; j < lent.size(); j++) {
                assertNotEquals(lent.get(i).memory().address(), lent.get(j).memory().address());
            }
        }
        lent.forEach(BounceBuffers.Buffer::close);
        assertEquals(BounceBuffers.KEPT_PER_SIZE, BounceBuffers.pooledFree(4096), "the pool keeps at most its cap");
    }

    @Test
    void largerOrMoreStrictlyAlignedBuffersHaveMemoryOfTheirOwn() {
        for (long[] sizeAndAlignment : new long[][]{{BounceBuffers.POOLED_UP_TO + 1, 4096}, {4096, 8192}}) {
            BounceBuffers.Buffer b = BounceBuffers.acquire(sizeAndAlignment[0], sizeAndAlignment[1]);
            var memory = b.memory();
            assertEquals(0, memory.address() % sizeAndAlignment[1]);
            b.close();
            assertFalse(memory.scope().isAlive(), "freed at close");
        }
    }

    @Test
    void releasingTwiceOrAskingNonsenseIsRefused() {
        BounceBuffers.Buffer b = BounceBuffers.acquire(4096, 4096);
        b.close();
        IllegalStateException twice = assertThrows(IllegalStateException.class, b::close);
        assertTrue(twice.getMessage().contains("twice"), twice.getMessage());
        assertThrows(IllegalArgumentException.class, () -> BounceBuffers.acquire(0, 4096));
        assertThrows(IllegalArgumentException.class, () -> BounceBuffers.acquire(4096, 3000));
    }
}
