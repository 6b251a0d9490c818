package io.blockloop.engine;

import io.blockloop.ffm.errno.Errno;
import io.blockloop.ffm.libc.IoVec;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The table of {@link FixedBuffers} against a ring that records what it is given: which buffer a request is
 * matched to, what the kernel's table holds after each change, and what happens when the kernel refuses, the SQ
 * ring cannot be emptied, or a buffer's memory is freed. {@code KernelEngineTest} runs them on real rings.
 */
class FixedBuffersTest {
    private final Arena arena = Arena.ofShared();
    private final FakeRing ring = new FakeRing();
    private boolean flushWorks = true;
    private final FixedBuffers fixed = new FixedBuffers(ring, () -> flushWorks,
            arena.allocate((long) FixedBuffers.MAX_BUFFERS * IoVec.SIZE, 8));

    @AfterEach
    void freeMemory() {
        arena.close();
    }

    @Test
    void aRequestInsideARegisteredBufferGetsItsIndexAndOneAcrossItsEdgeDoesNot() {
        MemorySegment a = arena.allocate(65536, 4096);
        MemorySegment b = arena.allocate(8192, 4096);
        assertTrue(fixed.add(a));
        assertTrue(fixed.add(b));
        assertEquals(List.of(List.of(a.address(), 65536L), List.of(b.address(), 8192L)), ring.table());
        assertEquals(0, fixed.indexOf(a.address() + 4096, 4096));
        assertEquals(0, fixed.indexOf(a.address(), 65536));
        assertEquals(1, fixed.indexOf(b.address() + 4096, 4096));
        assertEquals(-1, fixed.indexOf(a.address() + 61440, 8192), "ends past the buffer");
        assertEquals(-1, fixed.indexOf(a.address() - 512, 1024), "starts before it");
        assertEquals(3, fixed.fixedRequests, "one count per request matched");
    }

    @Test
    void aBufferStaysUntilRemovedAsOftenAsAddedAndTheOthersMoveUpThen() {
        MemorySegment a = arena.allocate(4096, 4096);
        MemorySegment b = arena.allocate(4096, 4096);
        assertTrue(fixed.add(a));
        assertTrue(fixed.add(a), "two nodes of one context register the same buffer");
        assertTrue(fixed.add(b));
        int registrations = ring.registrations;
        assertEquals(2, registrations, "adding a known buffer again does not touch the kernel");
        assertTrue(fixed.remove(a));
        assertEquals(0, fixed.indexOf(a.address(), 4096), "still registered once");
        assertTrue(fixed.remove(a));
        assertEquals(-1, fixed.indexOf(a.address(), 4096));
        assertEquals(List.of(List.of(b.address(), 4096L)), ring.table(), "the table without a");
        assertEquals(0, fixed.indexOf(b.address(), 4096), "b moved to index 0");
        assertFalse(fixed.remove(a), "not registered any more");
        assertTrue(fixed.remove(b));
        assertFalse(ring.hasTable(), "no buffer: no table");
    }

    @Test
    void whenTheKernelRefusesTheNewTableTheOldOneIsRegisteredAgain() {
        MemorySegment a = arena.allocate(4096, 4096);
        MemorySegment b = arena.allocate(4096, 4096);
        assertTrue(fixed.add(a));
        ring.refuseNext = -Errno.ENOMEM;
        assertFalse(fixed.add(b), "over RLIMIT_MEMLOCK");
        assertEquals(Errno.ENOMEM, fixed.lastErrno());
        assertEquals(List.of(List.of(a.address(), 4096L)), ring.table());
        assertEquals(0, fixed.indexOf(a.address(), 4096));
        assertEquals(-1, fixed.indexOf(b.address(), 4096));
        assertEquals(1, fixed.size());
    }

    @Test
    void whileTheSqRingCannotBeEmptiedIndexesStayAndARemovedBufferIsNoLongerMatched() {
        MemorySegment a = arena.allocate(4096, 4096);
        MemorySegment b = arena.allocate(4096, 4096);
        MemorySegment c = arena.allocate(4096, 4096);
        assertTrue(fixed.add(a));
        assertTrue(fixed.add(b));
        flushWorks = false; // SQEs in the SQ ring still name buffers by index
        assertFalse(fixed.add(c), "a change would move indexes under queued SQEs");
        assertTrue(fixed.remove(a));
        assertEquals(-1, fixed.indexOf(a.address(), 4096), "removed: never matched again");
        assertEquals(1, fixed.indexOf(b.address(), 4096), "b keeps its index while the kernel's table is unchanged");
        assertEquals(2, ring.table().size(), "the kernel's table is unchanged");
        flushWorks = true;
        assertTrue(fixed.add(c));
        assertEquals(List.of(List.of(b.address(), 4096L), List.of(c.address(), 4096L)), ring.table(),
                "the next change drops a");
    }

    @Test
    void aBufferWhoseMemoryWasFreedIsNoLongerMatchedAndLeavesTheTableAtTheNextChange() {
        Arena short1 = Arena.ofConfined();
        MemorySegment gone = short1.allocate(4096, 4096);
        MemorySegment kept = arena.allocate(4096, 4096);
        assertTrue(fixed.add(gone));
        assertTrue(fixed.add(kept));
        long address = gone.address();
        short1.close();
        assertEquals(-1, fixed.indexOf(address, 4096), "its pages are pinned, the address may map other memory now");
        assertEquals(1, fixed.size());
        assertTrue(fixed.add(arena.allocate(4096, 4096)));
        assertEquals(2, ring.table().size(), "dropped at the next change");
        assertEquals(0, fixed.indexOf(kept.address(), 4096));
    }

    @Test
    void buffersTheKernelWouldRefuseAreDeclinedWithoutAsking() {
        assertFalse(fixed.add(MemorySegment.ofArray(new byte[4096])), "heap memory");
        assertFalse(fixed.add(arena.allocate(0)), "empty");
        assertFalse(fixed.add(MemorySegment.ofAddress(1L << 40).reinterpret(FixedBuffers.MAX_BUFFER_BYTES + 1)),
                "over 1 GiB");
        assertEquals(0, ring.registrations);
        for (int i = 0; i < FixedBuffers.MAX_BUFFERS; i++) {
            assertTrue(fixed.add(arena.allocate(512, 512)));
        }
        assertFalse(fixed.add(arena.allocate(512, 512)), "the table is full");
        assertEquals(FixedBuffers.MAX_BUFFERS, ring.table().size());
    }

    @Test
    void clearLetsTheKernelsTableGo() {
        assertTrue(fixed.add(arena.allocate(4096, 4096)));
        fixed.clear();
        assertFalse(ring.hasTable());
        assertEquals(0, fixed.size());
        assertEquals(-1, fixed.indexOf(0, 1));
    }

    /** A ring that keeps the table it was given, as {@code io_uring_register_buffers} does (EBUSY if one is there). */
    private static final class FakeRing implements FixedBuffers.Ring {
        private List<List<Long>> table;
        int registrations;
        int refuseNext;

        @Override
        public int register(MemorySegment iovecs, int count) {
            if (table != null) {
                return -Errno.EBUSY;
            }
            if (refuseNext != 0) {
                int r = refuseNext;
                refuseNext = 0;
                return r;
            }
            List<List<Long>> t = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                long at = (long) i * IoVec.SIZE;
                t.add(List.of(iovecs.get(JAVA_LONG, at), iovecs.get(JAVA_LONG, at + 8)));
            }
            table = t;
            registrations++;
            return 0;
        }

        @Override
        public int unregister() {
            if (table == null) {
                return -Errno.ENXIO;
            }
            table = null;
            return 0;
        }

        List<List<Long>> table() {
            return table == null ? List.of() : table;
        }

        boolean hasTable() {
            return table != null;
        }
    }
}
