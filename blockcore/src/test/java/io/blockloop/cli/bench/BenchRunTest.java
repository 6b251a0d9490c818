package io.blockloop.cli.bench;

import io.blockloop.aio.AioContext;
import io.blockloop.aio.MainLoop;
import io.blockloop.aio.Timer;
import io.blockloop.block.BlockLimits;
import io.blockloop.block.BlockNode;
import io.blockloop.block.IoVector;
import io.blockloop.block.backend.BlockBackend;
import io.blockloop.block.testing.StubDriver;
import io.blockloop.cli.CommandFailure;
import io.blockloop.coroutine.Coroutine;
import io.blockloop.fdmon.FdMonitorKind;
import io.blockloop.ffm.errno.Errno;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The run loop against a scripted driver: request counts, offsets, in-flight limits and failures. */
class BenchRunTest {
    private AioContext ctx;
    private final List<BlockBackend> backends = new ArrayList<>();

    @BeforeEach
    void startLoop() {
        ctx = MainLoop.init(FdMonitorKind.POLL);
    }

    @AfterEach
    void stopLoop() {
        backends.forEach(BlockBackend::close);
        ctx.close();
    }

    @Test
    void keepsDepthRequestsInFlightAndIssuesOffsetsInQemuOrder() {
        ScriptedDriver driver = new ScriptedDriver(1 << 20, -1);
        BlockBackend blk = backend(driver);
        try (BenchRun run = new BenchRun(blk, 4, 4096, 0x5a, false, OffsetSequence.sequential(0, 4096, 4096, 1 << 20))) {
            BenchRun.Measurement m = run.run(1000, ProgressLine.none());
            assertEquals(1000, m.requests());
            assertEquals(1000, m.latency().count());
            assertEquals(0, run.failure());
            assertEquals(4, driver.maxInFlight, "DEPTH requests in flight at once");
            assertEquals(1000, driver.offsets.size());
            for (int i = 0; i < 1000; i++) {
                assertEquals((i * 4096L) % ((1 << 20) - 4096), driver.offsets.get(i), "request " + i);
            }
            assertEquals(0x5a, driver.firstByte, "buffers hold the pattern");
            // A second phase continues the offset sequence.
            run.run(10, ProgressLine.none());
            assertEquals((1000 * 4096L) % ((1 << 20) - 4096), driver.offsets.get(1000));
        }
        assertEquals(0, blk.inFlight());
    }

    /**
     * A phase with a time limit stops issuing once its time is up, checked before every request, so requests slower
     * than the limit end it after one per worker. Before session 26 the clock was read every 64 requests: a 100 ms
     * slice of the default warm-up issued 64 requests per worker whatever their size, and the warm-up of 1 GiB
     * requests took 128 of them.
     */
    @Test
    void aTimeLimitedPhaseStopsAtTheFirstRequestPastItsTime() {
        ScriptedDriver driver = new ScriptedDriver(1 << 20, -1);
        driver.requestNanos = 50_000_000L;
        BlockBackend blk = backend(driver);
        try (BenchRun run = new BenchRun(blk, 2, 4096, 0, false, OffsetSequence.sequential(0, 4096, 4096, 1 << 20))) {
            BenchRun.Measurement m = run.run(Long.MAX_VALUE, 10_000_000L, 2, ProgressLine.none());
            assertTrue(m.requests() >= 1 && m.requests() <= 2,
                    m.requests() + " requests of 50 ms in a phase limited to 10 ms, with 2 workers");
        }
        assertEquals(0, blk.inFlight());
    }

    @Test
    void processCpuTimeCoversTheMainThreadsToTheNanosecond() {
        ScriptedDriver driver = new ScriptedDriver(1 << 20, -1);
        BlockBackend blk = backend(driver);
        try (BenchRun run = new BenchRun(blk, 4, 4096, 0, false, OffsetSequence.sequential(0, 4096, 4096, 1 << 20))) {
            for (int phase = 0; phase < 20; phase++) {
                BenchRun.Measurement m = run.run(2000, ProgressLine.none());
                // A tick-counting process clock (times(2): 10 ms) read less than the thread's own in short phases.
                assertTrue(m.mainThreadCpuNanos() > 0, "main thread CPU measured");
                assertTrue(m.cpuNanos() >= m.mainThreadCpuNanos(),
                        () -> "process CPU " + m.cpuNanos() + " ns < main thread " + m.mainThreadCpuNanos() + " ns");
            }
        }
    }

    @Test
    void aFailedRequestStopsTheRunAfterTheInFlightOnesComplete() {
        ScriptedDriver driver = new ScriptedDriver(1 << 20, 100);
        BlockBackend blk = backend(driver);
        BenchOptions options;
        try {
            options = BenchOptions.parse(List.of("-c", "1000", "-d", "8"));
        } catch (CommandFailure e) {
            throw new AssertionError(e);
        }
        try (BenchRun run = new BenchRun(blk, 8, 4096, 0, false, OffsetSequence.sequential(0, 4096, 4096, 1 << 20))) {
            BenchRun.Measurement m = run.run(1000, ProgressLine.none());
            assertEquals(-Errno.EIO, run.failure());
            assertEquals(100 * 4096L, run.failedOffset());
            assertTrue(m.requests() < 1000, "stopped issuing: " + m.requests());
            assertTrue(driver.offsets.size() <= 100 + 8, "at most DEPTH more requests issued after the failure: "
                    + driver.offsets.size());
            assertEquals(0, driver.inFlight);
            CommandFailure f = assertThrows(CommandFailure.class, () -> BenchCommand.checkFailure(options, run));
            assertEquals(CommandFailure.RUNTIME, f.exitStatus());
            assertEquals("Failed request: Input/output error (read of 4096 bytes at offset 409600)", f.getMessage());
        }
    }

    @Test
    void drainedFlushesFollowEveryNthWriteWithNothingInFlight() {
        ScriptedDriver driver = new ScriptedDriver(1 << 20, -1);
        BlockBackend blk = backend(driver);
        try (BenchRun run = writeRun(blk, 8, new FlushSchedule(16, true))) {
            BenchRun.Measurement m = run.run(1000, ProgressLine.none());
            assertEquals(1000, m.requests());
            assertEquals(0, run.failure());
            assertEquals(62, driver.flushes, "one flush after every 16 of 1000 writes");
            assertEquals(62, m.flushLatency().count());
            for (int k = 0; k < driver.flushes; k++) {
                assertEquals(16 * (k + 1), driver.issuedAtFlush.get(k),
                        "flush " + k + " follows write " + 16 * (k + 1));
                assertEquals(0, driver.inFlightAtFlush.get(k), "flush " + k + " started with writes in flight");
            }
            assertEquals(0, driver.issuedDuringFlushes, "a write was issued while a drained flush ran");
            assertEquals(8, driver.maxInFlight, "DEPTH writes in flight between the flushes");
            // A second phase counts its own writes.
            assertEquals(1, run.run(16, ProgressLine.none()).flushLatency().count());
        }
        assertEquals(0, blk.inFlight());
    }

    @Test
    void undrainedFlushesRunBesideTheWrites() {
        ScriptedDriver driver = new ScriptedDriver(1 << 20, -1);
        BlockBackend blk = backend(driver);
        try (BenchRun run = writeRun(blk, 8, new FlushSchedule(16, false))) {
            BenchRun.Measurement m = run.run(1000, ProgressLine.none());
            assertEquals(1000, m.requests());
            assertEquals(62, driver.flushes);
            assertEquals(62, m.flushLatency().count());
            assertTrue(driver.issuedDuringFlushes > 0, "the writes waited for the flushes");
            assertEquals(8, driver.maxInFlightDuringFlushes, "a flush took a writer's place");
        }
        assertEquals(0, blk.inFlight());
    }

    @Test
    void aFailedFlushFailsTheRunAndSaysSo() throws Exception {
        for (boolean drain : new boolean[] {true, false}) {
            ScriptedDriver driver = new ScriptedDriver(1 << 20, -1);
            driver.failFlushAt = 2;
            BlockBackend blk = backend(driver);
            try (BenchRun run = writeRun(blk, 4, new FlushSchedule(8, drain))) {
                BenchRun.Measurement m = run.run(1000, ProgressLine.none());
                assertEquals(-Errno.EIO, run.failure(), "drain " + drain);
                assertTrue(run.failedFlush());
                assertTrue(m.requests() < 1000, "went on after the failure: " + m.requests());
                if (drain) {
                    assertEquals(3, driver.flushes, "flushed after the failure");
                } else {
                    // Undrained, writes and flushes already on their way when it failed still end.
                    assertTrue(driver.flushes >= 3 && driver.flushes <= 4, driver.flushes + " flushes");
                }
                assertEquals(0, driver.inFlight);
                CommandFailure f = assertThrows(CommandFailure.class, () -> BenchCommand.checkFailure(
                        BenchOptions.parse(List.of("-w", "-d", "4", "--flush-interval", "8")), run));
                assertEquals("Failed request: Input/output error (flush)", f.getMessage());
            }
        }
    }

    /** The flush's own write fails while the barrier is up: the waiting writers end, and nothing is flushed. */
    @Test
    void aFailedWriteUnderTheBarrierEndsTheRunWithoutTheFlush() {
        ScriptedDriver driver = new ScriptedDriver(1 << 20, 15);
        BlockBackend blk = backend(driver);
        try (BenchRun run = writeRun(blk, 4, new FlushSchedule(16, true))) {
            run.run(1000, ProgressLine.none());
            assertEquals(-Errno.EIO, run.failure());
            assertFalse(run.failedFlush());
            assertEquals(15 * 4096L, run.failedOffset());
            assertEquals(16, driver.offsets.size(), "a write issued past the barrier");
            assertEquals(0, driver.flushes, "flushed after a failed write");
        }
        assertEquals(0, blk.inFlight());
    }

    @Test
    void aRunWithoutFlushesHasNoFlushLatencies() {
        BlockBackend blk = backend(new ScriptedDriver(1 << 20, -1));
        try (BenchRun run = writeRun(blk, 2, null)) {
            assertNull(run.run(10, ProgressLine.none()).flushLatency());
        }
        assertThrows(IllegalArgumentException.class, () -> new BenchRun(blk, 2, 4096, 0, false,
                OffsetSequence.sequential(0, 4096, 4096, 1 << 20), new FlushSchedule(2, true)));
    }

    private static BenchRun writeRun(BlockBackend blk, int depth, FlushSchedule flushes) {
        return new BenchRun(blk, depth, 4096, 0, true, OffsetSequence.sequential(0, 4096, 4096, 1 << 20), flushes);
    }

    private BlockBackend backend(ScriptedDriver driver) {
        BlockBackend blk = BlockBackend.attach("bench-test", new BlockNode(null, driver, ctx));
        backends.add(blk);
        return blk;
    }

    /**
     * Completes every request from a bottom half (so requests are really in flight together), records offsets,
     * and fails the request with index {@code failAt} with EIO.
     */
    private final class ScriptedDriver extends StubDriver {
        final int failAt;
        final List<Long> offsets = new ArrayList<>();
        int inFlight;
        int maxInFlight;
        int firstByte = -1;
        /** The flush with this index fails with EIO (-1: none). */
        int failFlushAt = -1;
        int flushes;
        int flushesInFlight;
        /** For each flush, the requests issued before it started, and those in flight then. */
        final List<Integer> issuedAtFlush = new ArrayList<>();
        final List<Integer> inFlightAtFlush = new ArrayList<>();
        /** Requests issued while a flush was in flight, and the most in flight then. */
        int issuedDuringFlushes;
        int maxInFlightDuringFlushes;
        /** Above 0: a request completes this long after it was issued (a timer), not from a bottom half at once. */
        long requestNanos;

        ScriptedDriver(long size, int failAt) {
            super("scripted", size, new BlockLimits(512, 512, 1L << 30));
            this.failAt = failAt;
        }

        @Override
        public int coPreadv(long offset, long bytes, IoVector qiov, int flags) {
            int index = offsets.size();
            offsets.add(offset);
            if (flushesInFlight > 0) {
                issuedDuringFlushes++;
            }
            firstByte = Byte.toUnsignedInt(qiov.segment(0).get(java.lang.foreign.ValueLayout.JAVA_BYTE, 0));
            inFlight++;
            maxInFlight = Math.max(maxInFlight, inFlight);
            if (flushesInFlight > 0) {
                maxInFlightDuringFlushes = Math.max(maxInFlightDuringFlushes, inFlight);
            }
            Coroutine self = Coroutine.self();
            if (requestNanos > 0) {
                Timer done = ctx.newTimer("complete", self::wake);
                done.modAfterNs(requestNanos);
                Coroutine.yield();
                done.delete();
            } else {
                ctx.scheduleOneShot("complete", self::wake);
                Coroutine.yield();
            }
            inFlight--;
            return index == failAt ? -Errno.EIO : 0;
        }

        @Override
        public int coPwritev(long offset, long bytes, IoVector qiov, int flags) {
            return coPreadv(offset, bytes, qiov, flags);
        }

        /** Completes from a bottom half too, so writes may be issued while it is in flight. */
        @Override
        public int coFlush() {
            int index = flushes++;
            issuedAtFlush.add(offsets.size());
            inFlightAtFlush.add(inFlight);
            flushesInFlight++;
            Coroutine self = Coroutine.self();
            ctx.scheduleOneShot("flushed", self::wake);
            Coroutine.yield();
            flushesInFlight--;
            return index == failFlushAt ? -Errno.EIO : 0;
        }
    }
}
