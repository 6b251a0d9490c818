package io.blockloop.ffm.memory;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link ZeroFill} zeroes exactly its segment, by {@code memset} (critical or not) or by {@code fill}, and refuses
 * what {@code fill} refuses: read-only memory, a closed arena, another thread's confined memory.
 */
class ZeroFillTest {

    @Test
    void zeroesExactlyTheSegmentOnBothSidesOfTheThresholds() {
        long[] sizes = {1, ZeroFill.MEMSET_FROM - 1, ZeroFill.MEMSET_FROM, 65536 + 3, ZeroFill.CRITICAL_UP_TO,
                ZeroFill.CRITICAL_UP_TO + 4097};
        try (Arena arena = Arena.ofConfined()) {
            for (long size : sizes) {
                for (long start : new long[]{0, 1, 4096}) { // unaligned starts too
                    MemorySegment all = arena.allocate(size + 8192);
                    all.fill((byte) 0x5a);
                    ZeroFill.zero(all.asSlice(start, size));
                    long firstNonZero = -1;
                    long lastByte = -1;
                    for (long i = 0; i < all.byteSize(); i++) {
                        byte b = all.get(JAVA_BYTE, i);
                        boolean inside = i >= start && i < start + size;
                        if (inside && b != 0 && firstNonZero < 0) {
                            firstNonZero = i;
                        }
                        if (!inside && b != 0x5a && lastByte < 0) {
                            lastByte = i;
                        }
                    }
                    assertEquals(-1, firstNonZero, size + " bytes at " + start + ": a byte inside stayed non-zero");
                    assertEquals(-1, lastByte, size + " bytes at " + start + ": a byte outside was written");
                }
            }
        }
    }

    @Test
    void heapSegmentsAreZeroedToo() {
        byte[] bytes = new byte[2 * (int) ZeroFill.MEMSET_FROM];
        Arrays.fill(bytes, (byte) 7);
        ZeroFill.zero(MemorySegment.ofArray(bytes).asSlice(1, bytes.length - 2));
        assertEquals(7, bytes[0]);
        assertEquals(7, bytes[bytes.length - 1]);
        for (int i = 1; i < bytes.length - 1; i++) {
            assertEquals(0, bytes[i], "byte " + i);
        }
    }

    @Test
    void refusesWhatFillRefuses() throws Exception {
        long size = 2 * ZeroFill.MEMSET_FROM;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment readOnly = arena.allocate(size).fill((byte) 1).asReadOnly();
            assertThrows(IllegalArgumentException.class, () -> ZeroFill.zero(readOnly));
            assertEquals(1, readOnly.get(JAVA_BYTE, size - 1), "nothing written");

            MemorySegment confined = arena.allocate(size);
            Throwable fromOtherThread = CompletableFuture.supplyAsync(() -> {
                try {
                    ZeroFill.zero(confined);
                    return null;
                } catch (Throwable t) {
                    return t;
                }
            }).get(60, TimeUnit.SECONDS);
            assertTrue(fromOtherThread instanceof WrongThreadException, String.valueOf(fromOtherThread));
        }
        Arena closed = Arena.ofShared();
        MemorySegment gone = closed.allocate(size);
        closed.close();
        assertThrows(IllegalStateException.class, () -> ZeroFill.zero(gone));
    }
}
