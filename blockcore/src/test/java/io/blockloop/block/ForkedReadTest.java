package io.blockloop.block;

import io.blockloop.aio.AioContext;
import io.blockloop.block.backend.BlockBackend;
import io.blockloop.block.backend.BlockImages;
import io.blockloop.block.testing.StubDriver;
import io.blockloop.coroutine.Coroutine;
import io.blockloop.ffm.errno.Errno;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * The tail read that a padded write forks ({@link ForkedRead}) in every order it can end in: before the head read,
 * after it, at once (no yield at all), by throwing, and with several such writes in flight. A write at offset 2048
 * of three blocks on a node with 4096-byte blocks reads block 0 (head) and block 3 (tail); the driver below decides
 * per block whether its read returns at once, sleeps first, or throws.
 */
class ForkedReadTest {
    private static final int BLOCK = 4096;
    private static final int BLOCKS = 64;
    private static final long WRITE_AT = BLOCK / 2;
    private static final int WRITE_BYTES = 3 * BLOCK;
    private static final long HEAD = 0;
    private static final long TAIL = 3;

    private AioContext main;
    private Arena arena;
    private ScriptedDriver driver;
    private BlockNode node;
    private BlockBackend blk;

    @BeforeEach
    void setUp() {
        main = BlockImages.mainLoop();
        arena = Arena.ofShared();
        driver = new ScriptedDriver();
        node = new BlockNode("scripted", driver, main);
        blk = BlockBackend.attach("blk", node);
    }

    @AfterEach
    void tearDown() {
        blk.close();
        node.close();
        arena.close();
        main.close();
    }

    @Test
    void theTailEndsAfterTheHead() {
        driver.behaviour[(int) TAIL] = Read.SLEEPS;
        assertWriteLandsAndBothEndsWereRead(2); // the head's read runs while the tail's sleeps
    }

    @Test
    void theTailEndsBeforeTheHead() {
        driver.behaviour[(int) HEAD] = Read.SLEEPS;
        assertWriteLandsAndBothEndsWereRead(1); // the tail's read ended before the head's began
    }

    @Test
    void bothEndsAreInFlightTogether() {
        driver.behaviour[(int) HEAD] = Read.SLEEPS;
        driver.behaviour[(int) TAIL] = Read.SLEEPS;
        assertWriteLandsAndBothEndsWereRead(2);
    }

    @Test
    void neitherEndYields() {
        assertWriteLandsAndBothEndsWereRead(1);
    }

    @Test
    void aTailReadThatThrowsFailsTheWriteWithItsException() {
        driver.behaviour[(int) HEAD] = Read.SLEEPS;
        driver.behaviour[(int) TAIL] = Read.THROWS;
        IllegalStateException e = assertThrows(IllegalStateException.class, this::write);
        assertSame(driver.thrown, e);
        assertEquals(0, driver.writes, "nothing written");
        assertEquals(0, driver.readsInFlight, "the head's read ended before the write returned");
        driver.behaviour[(int) TAIL] = Read.SLEEPS;
        assertWriteLandsAndBothEndsWereRead(2); // and the node still works, with a fork from the pool
    }

    @Test
    void aHeadReadThatThrowsWaitsForTheTailBeforeTheWriteFails() {
        driver.behaviour[(int) HEAD] = Read.THROWS;
        driver.behaviour[(int) TAIL] = Read.SLEEPS;
        IllegalStateException e = assertThrows(IllegalStateException.class, this::write);
        assertSame(driver.thrown, e);
        assertEquals(0, driver.writes, "nothing written");
        assertEquals(0, driver.readsInFlight, "the tail's read, into the write's bounce buffer, ended first");
    }

    @Test
    void severalForkingWritesInFlightUseAForkEach() {
        for (int b = 0; b < BLOCKS; b++) {
            driver.behaviour[b] = Read.SLEEPS;
        }
        byte[] expected = driver.data.clone();
        Random random = new Random(7);
        CompletableFuture<?>[] writes = new CompletableFuture<?>[6];
        for (int i = 0; i < writes.length; i++) {
            long at = i * 8L * BLOCK + WRITE_AT; // blocks 8i .. 8i+3: no two writes overlap
            byte[] data = randomBytes(random, WRITE_BYTES);
            System.arraycopy(data, 0, expected, (int) at, data.length);
            writes[i] = blk.writeAsync(at, shared(data), 0);
        }
        for (CompletableFuture<?> write : writes) {
            write.join(); // a backend's future runs the main loop while the test thread waits in it
        }
        assertEquals(2 * writes.length, driver.mostReadsInFlight, "every write's head and tail in flight together");
        assertArrayEquals(expected, driver.data);
    }

    private void assertWriteLandsAndBothEndsWereRead(int expectedMostInFlight) {
        byte[] expected = driver.data.clone();
        byte[] data = randomBytes(new Random(WRITE_BYTES), WRITE_BYTES);
        System.arraycopy(data, 0, expected, (int) WRITE_AT, data.length);
        driver.reads.clear();
        driver.mostReadsInFlight = 0;
        blk.write(WRITE_AT, shared(data), 0);
        assertEquals(List.of(TAIL * BLOCK, HEAD * BLOCK), driver.reads, "the tail's read is queued first");
        assertEquals(expectedMostInFlight, driver.mostReadsInFlight, "reads in flight at once");
        assertArrayEquals(expected, driver.data);
    }

    private void write() {
        blk.write(WRITE_AT, shared(new byte[WRITE_BYTES]), 0);
    }

    private MemorySegment shared(byte[] bytes) {
        MemorySegment segment = arena.allocate(bytes.length, BLOCK);
        MemorySegment.copy(bytes, 0, segment, ValueLayout.JAVA_BYTE, 0, bytes.length);
        return segment;
    }

    private static byte[] randomBytes(Random random, int length) {
        byte[] bytes = new byte[length];
        random.nextBytes(bytes);
        return bytes;
    }

    private enum Read { AT_ONCE, SLEEPS, THROWS }

    /**
     * An in-memory disk of 4096-byte blocks whose reads behave per block as the test says. The node's home thread
     * (the test's main loop) runs it; the test reads its fields after the request it waited for.
     */
    private static final class ScriptedDriver extends StubDriver {
        final byte[] data = randomBytes(new Random(1), BLOCKS * BLOCK);
        final Read[] behaviour = new Read[BLOCKS];
        final List<Long> reads = new ArrayList<>();
        final IllegalStateException thrown = new IllegalStateException("a bug in a driver's read");
        int readsInFlight;
        int mostReadsInFlight;
        int writes;

        ScriptedDriver() {
            super("scripted-test", (long) BLOCKS * BLOCK, new BlockLimits(BLOCK, 1, 1L << 30));
            Arrays.fill(behaviour, Read.AT_ONCE);
        }

        @Override
        public int coPreadv(long offset, long bytes, IoVector qiov, int flags) {
            reads.add(offset);
            mostReadsInFlight = Math.max(mostReadsInFlight, ++readsInFlight);
            try {
                switch (behaviour[(int) (offset / BLOCK)]) {
                    case SLEEPS -> Coroutine.sleepNs(2_000_000);
                    case THROWS -> throw thrown;
                    case AT_ONCE -> { }
                }
                qiov.copyFrom(MemorySegment.ofArray(data), offset, 0, bytes);
                return 0;
            } finally {
                readsInFlight--;
            }
        }

        @Override
        public int coPwritev(long offset, long bytes, IoVector qiov, int flags) {
            writes++;
            qiov.copyTo(0, MemorySegment.ofArray(data), offset, bytes);
            return 0;
        }

        @Override
        public int coPwriteZeroes(long offset, long bytes, int flags) {
            return -Errno.EOPNOTSUPP;
        }
    }
}
