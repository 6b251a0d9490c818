package io.blockloop.block.filter;

import io.blockloop.aio.AioContext;
import io.blockloop.block.BlockIoException;
import io.blockloop.ffm.errno.Errno;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * How many reads a padded write makes, and how many of them are in flight at once, counted by a filter over an
 * O_DIRECT file ({@link ReadsInFlightProbe}; a node above the filter pads to the file's request alignment, so its
 * reads pass through the filter: {@link FilterGraph#paddedOverFile}): one read when the padded range is just the
 * two partial blocks, one per partial block, both in flight together, when whole blocks lie between them. The data
 * read back proves that each read filled the right part of the buffer; a read that fails, at either end, fails the
 * write before anything is written.
 */
class PaddedWriteReadsTest {
    private static final long SIZE = 1 << 20;

    private AioContext main;
    private Arena arena;

    @BeforeEach
    void setUp() {
        main = FilterGraph.mainLoop();
        arena = Arena.ofShared();
    }

    @AfterEach
    void tearDown() {
        arena.close();
        main.close();
    }

    @Test
    void aWriteInsideTwoBlocksReadsBothInOneRequest() throws IOException {
        assertReads(1, 1, align -> new long[]{align / 2, align}); // half of block 0 and half of block 1
    }

    @Test
    void aWriteInsideOneBlockReadsItOnce() throws IOException {
        assertReads(1, 1, align -> new long[]{align + 1, align - 2});
    }

    @Test
    void aWriteWithWholeBlocksBetweenItsPartialEndsReadsBothEndsAtOnce() throws IOException {
        assertReads(2, 2, align -> new long[]{align / 2, 3 * align}); // partial 0, whole 1 and 2, partial 3
    }

    @Test
    void aWriteWithOnlyAPartialTailReadsTheTail() throws IOException {
        assertReads(1, 1, align -> new long[]{2 * align, align + 100});
    }

    @Test
    void aFailedReadFailsTheWriteAndWritesNothing() throws IOException {
        Path image = FilterGraph.image(SIZE);
        try (FilterGraph<ErrorInjectionDriver> g = FilterGraph.paddedOverFile(image, main,
                ErrorInjectionDriver::open)) {
            long align = g.padding.limits().requestAlignment();
            byte[] before = randomBytes(new Random(5), 4 * align);
            g.blk.write(0, segmentOf(before), 0);

            ErrorRule anyRead = ErrorRule.fail(Errno.EIO, RequestKind.READ);
            long[] merged = {align / 2, align};
            long[] apart = {align / 2, 2 * align}; // partial 0, whole 1, partial 2: head and tail read side by side
            List<FailingRead> cases = List.of(
                    new FailingRead(merged, anyRead),
                    new FailingRead(apart, anyRead.inRange(0, align)),          // the head's read fails
                    new FailingRead(apart, anyRead.inRange(2 * align, align))); // the tail's read fails
            for (FailingRead c : cases) {
                long[] at = c.write();
                ArmedErrorRule failing = g.driver.addRule(c.rule().onlyOnce()); // removed once it fired
                ArmedErrorRule writes = g.driver.addRule(ErrorRule.fail(Errno.ENOSPC, RequestKind.WRITE)
                        .after(1_000_000));
                BlockIoException e = assertThrows(BlockIoException.class,
                        () -> g.blk.write(at[0], arena.allocate(at[1], 4096), 0));
                assertEquals(Errno.EIO, e.errno(), e.getMessage());
                assertEquals(1, failing.injectedErrors(), c.rule() + " fired");
                assertEquals(0, writes.matchedRequests(), "nothing written after the failed read");
                g.driver.removeRule(writes);
            }
            MemorySegment in = arena.allocate(before.length, 4096);
            g.blk.read(0, in);
            assertArrayEquals(before, in.toArray(ValueLayout.JAVA_BYTE));
        }
    }

    /** A write (offset, length) and the rule that fails one of its reads. */
    private record FailingRead(long[] write, ErrorRule rule) {
    }

    private interface Placement {
        /** Offset and length of the write for a request alignment of {@code align}. */
        long[] of(long align);
    }

    private void assertReads(int expectedReads, int expectedMostInFlight, Placement placement) throws IOException {
        Path image = FilterGraph.image(SIZE);
        try (FilterGraph<ReadsInFlightProbe> g = FilterGraph.paddedOverFile(image, main, ReadsInFlightProbe::new)) {
            long align = g.padding.limits().requestAlignment();
            assertTrue(align > 1, "the node above the filter pads: O_DIRECT gives the file an alignment, here "
                    + align);
            Random random = new Random(align);
            byte[] before = randomBytes(random, 8 * align);
            g.blk.write(0, segmentOf(before), 0);

            long[] at = placement.of(align);
            byte[] data = randomBytes(random, at[1]);
            g.driver.reset();
            g.blk.write(at[0], segmentOf(data), 0);
            String write = "the write at " + at[0] + " of " + at[1] + " bytes, alignment " + align;
            assertEquals(expectedReads, g.driver.reads(), "reads of " + write);
            assertEquals(expectedMostInFlight, g.driver.mostInFlight(), "reads in flight at once for " + write);

            byte[] expected = before.clone();
            System.arraycopy(data, 0, expected, (int) at[0], data.length);
            MemorySegment in = arena.allocate(before.length, 4096);
            g.blk.read(0, in);
            assertArrayEquals(expected, in.toArray(ValueLayout.JAVA_BYTE));
        }
    }

    private static byte[] randomBytes(Random random, long length) {
        byte[] bytes = new byte[(int) length];
        random.nextBytes(bytes);
        return bytes;
    }

    /** A 4 KiB-aligned copy of {@code bytes} in the test's arena. */
    private MemorySegment segmentOf(byte[] bytes) {
        MemorySegment segment = arena.allocate(bytes.length, 4096);
        MemorySegment.copy(bytes, 0, segment, ValueLayout.JAVA_BYTE, 0, bytes.length);
        return segment;
    }
}
