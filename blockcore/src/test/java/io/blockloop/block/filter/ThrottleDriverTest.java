package io.blockloop.block.filter;

import io.blockloop.aio.AioContext;
import io.blockloop.aio.AioWait;
import io.blockloop.aio.IOThread;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The throttle filter over a {@code null} node: which requests are admitted at once, which wait, in which order
 * they complete, and how limit changes apply. Timing is asserted only as the lower bound the limits guarantee.
 *
 * <p>Admission runs on a {@link Clock} the test holds: stopped while a test counts what was admitted at once and
 * what waits, so a stall of the machine (which let the buckets leak on the context's clock, and admitted a request
 * that should have waited) changes nothing; running (the context's clock) where real sleeps are the point.
 */
class ThrottleDriverTest {
    private static final long SIZE = 1 << 20;
    private static final long MS = 1_000_000;

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

    /**
     * The throttle's clock in these tests: stands still at a value the test sets and advances, or runs as the
     * context's clock ({@link System#nanoTime()}). The test thread sets it; the node's home thread reads it (an
     * IOThread in some tests): volatile, and nothing else rides on it.
     */
    private static final class Clock implements LongSupplier {
        private volatile boolean running;
        private volatile long stoppedAt;

        private Clock() {
        }

        /** A clock stopped at the current time of the context's clock. */
        static Clock stopped() {
            Clock clock = new Clock();
            clock.stoppedAt = System.nanoTime();
            return clock;
        }

        /** Moves the stopped clock on by {@code ns}. */
        void advanceNs(long ns) {
            assert !running;
            stoppedAt += ns;
        }

        /** Lets the clock run with the context's clock again (never behind where it stood: it stopped at "now"). */
        void run() {
            running = true;
        }

        @Override
        public long getAsLong() {
            return running ? System.nanoTime() : stoppedAt;
        }
    }

    /** On the context's clock, opened as outside the package. */
    private static FilterGraph<ThrottleDriver> overNull(AioContext ctx, ThrottleLimits limits) {
        return FilterGraph.overNull(SIZE, ctx, edge -> ThrottleDriver.open(edge, limits));
    }

    private static FilterGraph<ThrottleDriver> overNull(AioContext ctx, ThrottleLimits limits, Clock clock) {
        return FilterGraph.overNull(SIZE, ctx, edge -> ThrottleDriver.open(edge, limits, clock));
    }

    /** Records request {@code id} in {@code order} when {@code request} completes. */
    private static CompletableFuture<Void> tracked(ConcurrentLinkedQueue<String> order, String id,
                                                   Supplier<CompletableFuture<Void>> request) {
        CompletableFuture<Void> f = request.get();
        return f.whenComplete((v, t) -> order.add(t == null ? id : id + " failed: " + t));
    }

    private static long done(List<CompletableFuture<Void>> futures) {
        return futures.stream().filter(CompletableFuture::isDone).count();
    }

    private void waitAll(List<CompletableFuture<Void>> futures) {
        assertTrue(AioWait.waitWhile(main, () -> done(futures) < futures.size(), TimeUnit.SECONDS.toNanos(10)),
                "requests completed");
    }

    @Test
    void anIopsLimitAdmitsTheBurstAtOnceAndQueuesTheRestInArrivalOrder() {
        // 1 request/s on a stopped clock: the first waiter's turn never comes, whatever the machine does; the
        // waiters are released by disabling the limits.
        try (FilterGraph<ThrottleDriver> g = overNull(main,
                ThrottleLimits.NONE.withIopsTotal(new ThrottleLimit(1, 3)), Clock.stopped())) {
            MemorySegment buf = arena.allocate(512);
            ConcurrentLinkedQueue<String> order = new ConcurrentLinkedQueue<>();
            List<CompletableFuture<Void>> futures = new ArrayList<>();
            for (int i = 0; i < 7; i++) {
                long offset = i * 512L;
                futures.add(tracked(order, "r" + i, () -> g.blk.readAsync(offset, buf)));
            }
            // The null node completes at once what the throttle admits at once.
            assertEquals(3, done(futures), "the burst passes without waiting");
            // Four wait; only the first in line sleeps on the timer, the others wait behind it.
            assertEquals(new ThrottleStats(3, 0, 4, 1), g.driver.stats(ThrottleDirection.READ));
            assertEquals(List.of("r0", "r1", "r2"), List.copyOf(order));

            g.driver.disableLimits();
            waitAll(futures);
            assertEquals(List.of("r0", "r1", "r2", "r3", "r4", "r5", "r6"), List.copyOf(order));
            assertEquals(new ThrottleStats(3, 4, 0, 1), g.driver.stats(ThrottleDirection.READ));
            assertEquals(new ThrottleStats(0, 0, 0, 0), g.driver.stats(ThrottleDirection.WRITE));
        }
    }

    @Test
    void requestsPastTheBurstAreSpacedByTheRateInArrivalOrder() {
        Clock clock = Clock.stopped();
        try (FilterGraph<ThrottleDriver> g = overNull(main,
                ThrottleLimits.NONE.withIopsTotal(new ThrottleLimit(20, 2)), clock)) {
            MemorySegment buf = arena.allocate(512);
            ConcurrentLinkedQueue<String> order = new ConcurrentLinkedQueue<>();
            List<CompletableFuture<Void>> futures = new ArrayList<>();
            // Submitted on a stopped clock (a stall of the test thread would let the bucket leak: everything
            // admitted at once, no sleep); then the clock runs, and the timer's real sleeps admit the rest.
            long start = clock.getAsLong();
            for (int i = 0; i < 8; i++) {
                long offset = i * 512L;
                futures.add(tracked(order, "w" + i, () -> g.blk.writeAsync(offset, buf, 0)));
            }
            assertEquals(2, done(futures), "the burst passes without waiting");
            clock.run();
            waitAll(futures);
            long elapsed = main.nowNs() - start;
            assertEquals(IntStream.range(0, 8).mapToObj(i -> "w" + i).toList(), List.copyOf(order));
            ThrottleStats stats = g.driver.stats(ThrottleDirection.WRITE);
            assertEquals(8, stats.admitted());
            assertEquals(2, stats.admittedImmediately(), stats.toString());
            assertTrue(stats.timerWaits() >= 1, stats.toString());
            // The limit's guarantee (a lower bound, not a performance figure): at most burst + rate x t requests in
            // t, so 8 requests within a burst of 2 at 20/s take at least 300 ms. How many sleeps that takes depends
            // on how late the loop runs its timers (a head woken a period late finds its successor's budget there
            // too); ThrottleStateTest checks the exact count on a virtual clock.
            assertTrue(elapsed >= 300 * MS - MS, "admitted faster than the limit: " + elapsed / MS + " ms");
        }
    }

    @Test
    void aReadBytesLimitLeavesWritesAlone() {
        // 4 KiB/s on a stopped clock: a queued 8 KiB read waits for ever; released by lifting the limit.
        ThrottleLimits limits = ThrottleLimits.NONE.withBpsRead(new ThrottleLimit(4096, 16 * 1024));
        try (FilterGraph<ThrottleDriver> g = overNull(main, limits, Clock.stopped())) {
            MemorySegment buf = arena.allocate(8192);
            List<CompletableFuture<Void>> reads = new ArrayList<>();
            List<CompletableFuture<Void>> writes = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                long offset = i * 8192L;
                reads.add(g.blk.readAsync(offset, buf));
                writes.add(g.blk.writeAsync(offset, buf, 0));
            }
            assertEquals(2, done(reads), "16 KiB of burst: two 8 KiB reads");
            assertEquals(4, done(writes), "writes are not limited");
            assertEquals(new ThrottleStats(2, 0, 2, 1), g.driver.stats(ThrottleDirection.READ));
            assertEquals(new ThrottleStats(4, 0, 0, 0), g.driver.stats(ThrottleDirection.WRITE));
            g.driver.setThrottleLimits(ThrottleLimits.NONE);
            waitAll(reads);
            assertEquals(new ThrottleStats(2, 2, 0, 1), g.driver.stats(ThrottleDirection.READ));
        }
    }

    @Test
    void aSmallRequestDoesNotOvertakeALargerOneQueuedBeforeIt() {
        // 32 KiB/s with a 32 KiB burst: w1 waits 1 s; w2 (512 bytes) would fit after 16 ms but is behind w1.
        ThrottleLimits limits = ThrottleLimits.NONE.withBpsWrite(new ThrottleLimit(32 * 1024, 32 * 1024));
        Clock clock = Clock.stopped();
        try (FilterGraph<ThrottleDriver> g = overNull(main, limits, clock)) {
            MemorySegment big = arena.allocate(32 * 1024);
            MemorySegment small = arena.allocate(512);
            ConcurrentLinkedQueue<String> order = new ConcurrentLinkedQueue<>();
            List<CompletableFuture<Void>> futures = new ArrayList<>();
            futures.add(tracked(order, "w0 32K", () -> g.blk.writeAsync(0, big, 0)));
            futures.add(tracked(order, "w1 32K", () -> g.blk.writeAsync(65536, big, 0)));
            // 100 ms later w2's budget is there, w1's is not (900 ms to go): w2 arrives with budget, yet it
            // stays behind w1. (The loop is not polled: w1's timer, armed for 1 s, cannot fire.)
            clock.advanceNs(100 * MS);
            futures.add(tracked(order, "w2 512", () -> g.blk.writeAsync(131072, small, 0)));
            // Another direction does not queue behind writes.
            futures.add(tracked(order, "r0", () -> g.blk.readAsync(0, big)));
            assertEquals(List.of("w0 32K", "r0"), List.copyOf(order));
            assertEquals(new ThrottleStats(1, 0, 2, 1), g.driver.stats(ThrottleDirection.WRITE));
            g.driver.disableLimits();
            waitAll(futures);
            assertEquals(List.of("w0 32K", "r0", "w1 32K", "w2 512"), List.copyOf(order));
        }
    }

    /**
     * Under a total limit a stream of small writes does not keep a larger read out. Before, each 4 KiB write found
     * room as soon as 4 KiB had leaked, while the 32 KiB read waited for 32 KiB of room, which never came.
     */
    @Test
    void smallWritesDoNotKeepALargerReadOutUnderATotalLimit() {
        // 320 KiB/s with a 32 KiB burst: 4 KiB leak away in 12.5 ms of the stopped clock the test advances.
        Clock clock = Clock.stopped();
        try (FilterGraph<ThrottleDriver> g = overNull(main,
                ThrottleLimits.NONE.withBpsTotal(new ThrottleLimit(320 * 1024, 32 * 1024)), clock)) {
            MemorySegment big = arena.allocate(32 * 1024);
            MemorySegment small = arena.allocate(4096);
            ConcurrentLinkedQueue<String> order = new ConcurrentLinkedQueue<>();
            List<CompletableFuture<Void>> futures = new ArrayList<>();
            futures.add(tracked(order, "w0 32K", () -> g.blk.writeAsync(0, big, 0)));
            CompletableFuture<Void> read = tracked(order, "r 32K", () -> g.blk.readAsync(0, big));
            futures.add(read);
            for (int i = 1; i <= 8; i++) {
                clock.advanceNs(12_500_000);
                long offset = i * 4096L;
                futures.add(tracked(order, "w" + i, () -> g.blk.writeAsync(offset, small, 0)));
            }
            assertEquals(List.of("w0 32K"), List.copyOf(order), "the writes queue behind the waiting read");
            clock.advanceNs(200 * MS);
            assertTrue(AioWait.waitWhile(main, () -> !read.isDone(), TimeUnit.SECONDS.toNanos(10)), "read admitted");
            assertEquals(List.of("w0 32K", "r 32K"), List.copyOf(order));
            assertEquals(8, g.driver.stats(ThrottleDirection.WRITE).waiting());
            g.driver.disableLimits();
            waitAll(futures);
            assertEquals(List.of("w0 32K", "r 32K", "w1", "w2", "w3", "w4", "w5", "w6", "w7", "w8"),
                    List.copyOf(order));
        }
    }

    /**
     * Under a total limit, reads and writes both waiting take turns, the older head first, and a request does not
     * pass the other direction's waiting ones even when it finds budget.
     */
    @Test
    void readsAndWritesWaitingOnATotalLimitTakeTurns() {
        // 100 requests/s, burst 1: one request per 10 ms of the stopped clock the test advances.
        Clock clock = Clock.stopped();
        try (FilterGraph<ThrottleDriver> g = overNull(main,
                ThrottleLimits.NONE.withIopsTotal(new ThrottleLimit(100, 1)), clock)) {
            MemorySegment buf = arena.allocate(512);
            ConcurrentLinkedQueue<String> order = new ConcurrentLinkedQueue<>();
            List<CompletableFuture<Void>> futures = new ArrayList<>();
            futures.add(tracked(order, "r0", () -> g.blk.readAsync(0, buf)));
            for (int i = 0; i < 3; i++) {
                long offset = i * 512L;
                futures.add(tracked(order, "w" + i, () -> g.blk.writeAsync(offset, buf, 0)));
            }
            // w0's budget is there (its timer has not fired yet): a read arriving now still goes after it.
            clock.advanceNs(10 * MS);
            for (int i = 1; i < 3; i++) {
                long offset = i * 512L;
                futures.add(tracked(order, "r" + i, () -> g.blk.readAsync(offset, buf)));
            }
            assertEquals(List.of("r0"), List.copyOf(order), "the reads queue behind the waiting writes");
            for (int admitted = 2; admitted <= futures.size(); admitted++) {
                if (admitted > 2) {
                    clock.advanceNs(10 * MS);
                }
                int expected = admitted;
                assertTrue(AioWait.waitWhile(main, () -> done(futures) < expected, TimeUnit.SECONDS.toNanos(10)),
                        "one more request passes per period");
                assertEquals(admitted, done(futures), "one request per period: " + order);
            }
            assertEquals(List.of("r0", "w0", "r1", "w1", "r2", "w2"), List.copyOf(order));
        }
    }

    /**
     * Reads and writes of mixed sizes, submitted at once in an IOThread under a total limit on the running clock:
     * all of them pass (no head parks for ever waiting for a turn), each direction in arrival order.
     */
    @Test
    void mixedDirectionsUnderATotalLimitAllPassInArrivalOrder() throws Exception {
        try (IOThread io = new IOThread("io-throttle-turns").start()) {
            FilterGraph<ThrottleDriver> g = overNull(io.context(), ThrottleLimits.NONE
                    .withBpsTotal(new ThrottleLimit(16 << 20, 64 * 1024)).withIopsTotal(new ThrottleLimit(2000, 8)));
            try {
                MemorySegment buf = arena.allocate(32 * 1024);
                ConcurrentLinkedQueue<String> reads = new ConcurrentLinkedQueue<>();
                ConcurrentLinkedQueue<String> writes = new ConcurrentLinkedQueue<>();
                List<CompletableFuture<Void>> futures = new ArrayList<>();
                AioWait.runInContext(io.context(), () -> {
                    for (int i = 0; i < 120; i++) {
                        long offset = (i % 32) * 32768L;
                        MemorySegment part = buf.asSlice(0, 4096L << (i % 4)); // 4, 8, 16, 32 KiB
                        boolean read = (i * 7) % 3 == 0;
                        futures.add(read ? tracked(reads, "r" + i, () -> g.blk.readAsync(offset, part))
                                : tracked(writes, "w" + i, () -> g.blk.writeAsync(offset, part, 0)));
                    }
                });
                CompletableFuture.allOf(futures.toArray(CompletableFuture[]::new)).get(20, TimeUnit.SECONDS);
                assertEquals(IntStream.range(0, 120).filter(i -> (i * 7) % 3 == 0).mapToObj(i -> "r" + i).toList(),
                        List.copyOf(reads));
                assertEquals(IntStream.range(0, 120).filter(i -> (i * 7) % 3 != 0).mapToObj(i -> "w" + i).toList(),
                        List.copyOf(writes));
                assertEquals(120, g.driver.stats(ThrottleDirection.READ).admitted()
                        + g.driver.stats(ThrottleDirection.WRITE).admitted());
            } finally {
                g.close();
            }
        }
    }

    @Test
    void discardsAndWriteZeroesAreWritesAndFlushesAreNotLimited() {
        try (FilterGraph<ThrottleDriver> g = overNull(main,
                ThrottleLimits.NONE.withIopsWrite(new ThrottleLimit(1, 1)), Clock.stopped())) {
            MemorySegment buf = arena.allocate(4096);
            ConcurrentLinkedQueue<String> order = new ConcurrentLinkedQueue<>();
            List<CompletableFuture<Void>> futures = new ArrayList<>();
            futures.add(tracked(order, "write", () -> g.blk.writeAsync(0, buf, 0)));
            futures.add(tracked(order, "flush", g.blk::flushAsync));
            futures.add(tracked(order, "write-zeroes", () -> g.blk.writeZeroesAsync(8192, 4096, 0)));
            futures.add(tracked(order, "discard", () -> g.blk.discardAsync(16384, 4096)));
            futures.add(tracked(order, "read", () -> g.blk.readAsync(0, buf)));
            assertEquals(List.of("write", "flush", "read"), List.copyOf(order), "what passed without waiting");
            assertEquals(new ThrottleStats(1, 0, 2, 1), g.driver.stats(ThrottleDirection.WRITE));
            g.driver.disableLimits();
            waitAll(futures);
            assertEquals(List.of("write", "flush", "read", "write-zeroes", "discard"), List.copyOf(order));
            assertEquals(new ThrottleStats(1, 2, 0, 1), g.driver.stats(ThrottleDirection.WRITE));
            assertEquals(new ThrottleStats(1, 0, 0, 0), g.driver.stats(ThrottleDirection.READ));
        }
    }

    @Test
    void liftingTheLimitsFromAnotherThreadReleasesWaitingRequestsAtOnce() throws Exception {
        try (IOThread io = new IOThread("io-throttle").start()) {
            // 512 bytes/s on a stopped clock: a 4 KiB read past the burst waits until the limits change.
            FilterGraph<ThrottleDriver> g = overNull(io.context(),
                    ThrottleLimits.NONE.withBpsTotal(new ThrottleLimit(512, 4096)), Clock.stopped());
            try {
                MemorySegment buf = arena.allocate(4096);
                List<CompletableFuture<Void>> futures = new ArrayList<>();
                for (int i = 0; i < 3; i++) {
                    futures.add(g.blk.readAsync(i * 4096L, buf));
                }
                awaitTrue(() -> g.driver.stats(ThrottleDirection.READ).waiting() == 2, "two reads queue");
                assertEquals(1, g.driver.stats(ThrottleDirection.READ).admittedImmediately());

                Thread changer = Thread.ofPlatform().name("limit-changer")
                        .start(() -> g.driver.setThrottleLimits(ThrottleLimits.NONE));
                changer.join(TimeUnit.SECONDS.toMillis(5));
                // Only the change can admit them: the sleeping head was woken and re-evaluated.
                CompletableFuture.allOf(futures.toArray(CompletableFuture[]::new)).get(5, TimeUnit.SECONDS);
                ThrottleStats stats = g.driver.stats(ThrottleDirection.READ);
                assertEquals(new ThrottleStats(1, 2, 0, stats.timerWaits()), stats);
                assertEquals(ThrottleLimits.NONE, g.driver.throttleLimits());
            } finally {
                g.close();
            }
        }
    }

    @Test
    void disablingTheLimitsReleasesWaitersInOrderUntilTheyAreEnabledAgain() {
        // 512 bytes/s on a stopped clock: a 4 KiB read past the burst waits until the limits are lifted.
        try (FilterGraph<ThrottleDriver> g = overNull(main,
                ThrottleLimits.NONE.withBpsTotal(new ThrottleLimit(512, 4096)), Clock.stopped())) {
            MemorySegment buf = arena.allocate(4096);
            ConcurrentLinkedQueue<String> order = new ConcurrentLinkedQueue<>();
            List<CompletableFuture<Void>> futures = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                long offset = i * 4096L;
                futures.add(tracked(order, "r" + i, () -> g.blk.readAsync(offset, buf)));
            }
            assertEquals(1, done(futures));
            g.driver.disableLimits(); // what a drained section of the node will do
            g.driver.disableLimits(); // nested
            waitAll(futures);
            assertEquals(List.of("r0", "r1", "r2"), List.copyOf(order));
            assertTrue(g.driver.describe().contains("limits disabled: yes"), g.driver.describe().toString());
            futures.add(g.blk.readAsync(0, buf));
            assertEquals(4, done(futures), "no limit while disabled");

            g.driver.enableLimits();
            futures.add(g.blk.readAsync(0, buf));
            assertEquals(5, done(futures), "still disabled once");
            g.driver.enableLimits();
            assertThrows(IllegalStateException.class, g.driver::enableLimits);
            futures.add(g.blk.readAsync(0, buf));
            assertEquals(5, done(futures), "the first read's 4 KiB is still in the bucket: the limit is back");
            assertEquals(new ThrottleStats(3, 2, 1, 2), g.driver.stats(ThrottleDirection.READ),
                    "two heads slept: r1 and the last");
            g.driver.setThrottleLimits(ThrottleLimits.NONE);
            waitAll(futures);
        }
    }

    @Test
    void tighteningTheLimitsAppliesToTheNextRequests() {
        try (FilterGraph<ThrottleDriver> g = overNull(main, ThrottleLimits.NONE, Clock.stopped())) {
            MemorySegment buf = arena.allocate(512);
            List<CompletableFuture<Void>> futures = new ArrayList<>();
            for (int i = 0; i < 5; i++) {
                futures.add(g.blk.writeAsync(0, buf, 0));
            }
            assertEquals(5, done(futures), "no limit: nothing waits");
            g.driver.setThrottleLimits(ThrottleLimits.NONE.withIopsTotal(new ThrottleLimit(1, 1)));
            for (int i = 0; i < 3; i++) {
                futures.add(g.blk.writeAsync(0, buf, 0));
            }
            assertEquals(6, done(futures), "one more within the new burst");
            g.driver.disableLimits();
            waitAll(futures);
            ThrottleStats stats = g.driver.stats(ThrottleDirection.WRITE);
            assertEquals(6, stats.admittedImmediately());
            assertEquals(2, stats.delayed());
        }
    }

    /**
     * Applying the limits in force again empties the buckets, as applying an equal copy does: a waiting request
     * then passes at once. Before, the same object changed nothing (the state compares identity).
     */
    @Test
    void applyingTheLimitsInForceAgainRestartsTheBuckets() {
        ThrottleLimits limits = ThrottleLimits.NONE.withIopsTotal(new ThrottleLimit(1, 1));
        try (FilterGraph<ThrottleDriver> g = overNull(main, limits, Clock.stopped())) {
            MemorySegment buf = arena.allocate(512);
            List<CompletableFuture<Void>> futures = new ArrayList<>();
            futures.add(g.blk.readAsync(0, buf));
            futures.add(g.blk.readAsync(0, buf));
            assertEquals(1, done(futures), "the burst of 1 is used up; the clock stands still");
            g.driver.setThrottleLimits(g.driver.throttleLimits());
            // The waiting head re-evaluates in a BH of the main loop, which this thread polls.
            assertTrue(AioWait.waitWhile(main, () -> done(futures) < 2, TimeUnit.SECONDS.toNanos(10)),
                    "the buckets did not restart: the waiting read is still waiting");
            assertEquals(limits, g.driver.throttleLimits());
            futures.add(g.blk.readAsync(0, buf));
            assertEquals(2, done(futures), "and the limit still applies");
            g.driver.setThrottleLimits(ThrottleLimits.NONE);
            waitAll(futures);
        }
    }

    /** Many writes submitted in one go inside an IOThread complete in submission order at an IOPS limit. */
    @Test
    void manyRequestsInAnIoThreadCompleteInSubmissionOrder() throws Exception {
        try (IOThread io = new IOThread("io-throttle-fifo").start()) {
            Clock clock = Clock.stopped();
            FilterGraph<ThrottleDriver> g = overNull(io.context(),
                    ThrottleLimits.NONE.withIopsWrite(new ThrottleLimit(400, 4)), clock);
            try {
                MemorySegment buf = arena.allocate(512);
                ConcurrentLinkedQueue<String> order = new ConcurrentLinkedQueue<>();
                List<CompletableFuture<Void>> futures = new ArrayList<>();
                // Submitted on a stopped clock, as in requestsPastTheBurstAreSpacedByTheRateInArrivalOrder (a stall
                // of the IOThread let everything pass at once); then real sleeps admit the rest.
                long start = clock.getAsLong();
                AioWait.runInContext(io.context(), () -> {
                    for (int i = 0; i < 40; i++) {
                        long offset = i * 512L;
                        futures.add(tracked(order, "w" + i, () -> g.blk.writeAsync(offset, buf, 0)));
                    }
                });
                clock.run();
                CompletableFuture.allOf(futures.toArray(CompletableFuture[]::new)).get(10, TimeUnit.SECONDS);
                long elapsed = io.context().nowNs() - start;
                assertEquals(IntStream.range(0, 40).mapToObj(i -> "w" + i).toList(), List.copyOf(order));
                ThrottleStats stats = g.driver.stats(ThrottleDirection.WRITE);
                assertEquals(40, stats.admitted());
                assertEquals(4, stats.admittedImmediately(), stats.toString());
                assertTrue(stats.timerWaits() >= 1, stats.toString());
                // The rate bound (a lower bound, not a performance figure): 40 requests within a burst of 4 at
                // 400/s take at least 90 ms, however late the loop runs.
                assertTrue(elapsed >= 90 * MS - MS, "admitted faster than the limit: " + elapsed / MS + " ms");
            } finally {
                g.close();
            }
        }
    }

    @Test
    void describesItselfAndMirrorsTheChild() {
        ThrottleLimits limits = ThrottleLimits.NONE.withIopsRead(new ThrottleLimit(100, 10))
                .withBpsWrite(ThrottleLimit.of(1 << 20));
        try (FilterGraph<ThrottleDriver> g = overNull(main, limits)) {
            assertEquals("throttle", g.driver.formatName());
            assertEquals(SIZE, g.filter.length());
            assertEquals(g.base.limits(), g.filter.limits());
            assertEquals(g.base.driver().supportedWriteFlags(), g.driver.supportedWriteFlags());
            assertEquals(List.of(g.driver.file()), g.filter.children());
            assertEquals(List.of("iops-read: 100/s burst 10", "bps-write: 1048576/s burst 104857",
                    "throttled reads: 0 of 0 delayed, 0 waiting", "throttled writes: 0 of 0 delayed, 0 waiting"),
                    g.driver.describe());
        }
    }

    @Test
    void badLimitsAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> new ThrottleLimit(0, 1));
        assertThrows(IllegalArgumentException.class, () -> new ThrottleLimit(10, -1));
        assertEquals(1, ThrottleLimit.of(5).burst(), "default burst: a tenth of a second, at least 1");
        assertThrows(IllegalArgumentException.class,
                () -> ThrottleLimits.NONE.withIopsTotal(ThrottleLimit.of(10)).withIopsRead(ThrottleLimit.of(10)));
        assertThrows(IllegalArgumentException.class,
                () -> ThrottleLimits.NONE.withBpsWrite(ThrottleLimit.of(10)).withBpsTotal(ThrottleLimit.of(10)));
    }

    private static void awaitTrue(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) {
                throw new AssertionError("timed out waiting until: " + what);
            }
            Thread.sleep(1);
        }
    }
}
