package io.blockloop.block.filter;

import io.blockloop.aio.AioContext;
import io.blockloop.aio.IOThread;
import io.blockloop.block.BlockIoException;
import io.blockloop.block.backend.BlockBackend;
import io.blockloop.ffm.errno.Errno;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The blkdebug filter: which requests fail, with which errno, and that everything else passes through. */
class ErrorInjectionDriverTest {
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

    private static FilterGraph<ErrorInjectionDriver> overNull(AioContext ctx) {
        return FilterGraph.overNull(SIZE, ctx, ErrorInjectionDriver::open);
    }

    /** 0 if {@code request} succeeded, else the errno of the {@link BlockIoException} it threw. */
    private static int errnoOf(Runnable request) {
        try {
            request.run();
            return 0;
        } catch (BlockIoException e) {
            return e.errno();
        }
    }

    private MemorySegment buffer(int bytes) {
        return arena.allocate(bytes, 4096);
    }

    /** Runs each kind of request once on {@code blk}; returns the errno of each (0: success). */
    private Map<RequestKind, Integer> oneOfEach(BlockBackend blk) {
        Map<RequestKind, Integer> results = new EnumMap<>(RequestKind.class);
        // The write comes first: a flush reaches the driver only when something was written since the last one.
        results.put(RequestKind.WRITE, errnoOf(() -> blk.write(0, buffer(4096), 0)));
        results.put(RequestKind.FLUSH, errnoOf(blk::flush));
        results.put(RequestKind.READ, errnoOf(() -> blk.read(0, buffer(4096))));
        results.put(RequestKind.DISCARD, errnoOf(() -> blk.discard(8192, 4096)));
        results.put(RequestKind.WRITE_ZEROES, errnoOf(() -> blk.writeZeroes(16384, 4096, 0)));
        return results;
    }

    @Test
    void withoutRulesEveryRequestPassesThrough() {
        try (FilterGraph<ErrorInjectionDriver> g = overNull(main)) {
            oneOfEach(g.blk).forEach((kind, errno) -> assertEquals(0, errno, kind.label()));
            assertEquals(0, g.driver.injectedErrors());
        }
    }

    @ParameterizedTest
    @EnumSource(RequestKind.class)
    void aRuleFailsOnlyRequestsOfItsKindWithItsErrno(RequestKind kind) {
        try (FilterGraph<ErrorInjectionDriver> g = overNull(main)) {
            ArmedErrorRule rule = g.driver.addRule(ErrorRule.fail(Errno.ENOSPC, kind));
            Map<RequestKind, Integer> results = oneOfEach(g.blk);
            for (RequestKind k : RequestKind.values()) {
                assertEquals(k == kind ? Errno.ENOSPC : 0, results.get(k),
                        k.label() + " with a " + kind.label() + " rule");
                assertEquals(k == kind ? 1 : 0, g.driver.injectedErrors(k), k.label());
            }
            assertEquals(1, rule.injectedErrors());
            assertEquals(1, rule.matchedRequests());
            assertEquals(1, g.driver.injectedErrors());
        }
    }

    @Test
    void aRuleCanCoverSeveralKinds() {
        try (FilterGraph<ErrorInjectionDriver> g = overNull(main)) {
            g.driver.addRule(
                    ErrorRule.fail(Errno.EROFS, RequestKind.WRITE, RequestKind.WRITE_ZEROES, RequestKind.DISCARD));
            Map<RequestKind, Integer> results = oneOfEach(g.blk);
            assertEquals(Map.of(RequestKind.WRITE, Errno.EROFS, RequestKind.FLUSH, 0, RequestKind.READ, 0,
                    RequestKind.DISCARD, Errno.EROFS, RequestKind.WRITE_ZEROES, Errno.EROFS), results);
            assertEquals(3, g.driver.injectedErrors());
        }
    }

    @Test
    void theErrorReachesTheFailedRequestAndDataPassesThroughForTheOthers() throws Exception {
        Path image = FilterGraph.image(SIZE);
        try (FilterGraph<ErrorInjectionDriver> g = FilterGraph.overFile(image, main, ErrorInjectionDriver::open)) {
            byte[] data = new byte[4096];
            new java.util.Random(7).nextBytes(data);
            MemorySegment out = buffer(4096);
            MemorySegment.copy(data, 0, out, ValueLayout.JAVA_BYTE, 0, data.length);
            g.blk.write(8192, out, 0);

            ArmedErrorRule rule = g.driver.addRule(ErrorRule.fail(Errno.EIO, RequestKind.READ));
            MemorySegment in = buffer(4096);
            BlockIoException e = assertThrows(BlockIoException.class, () -> g.blk.read(8192, in));
            assertEquals(Errno.EIO, e.errno());
            assertTrue(e.getMessage().contains("EIO"), e.getMessage());
            assertEquals(0, errnoOf(() -> g.blk.write(0, buffer(4096), 0)), "writes still pass");
            assertEquals(0, errnoOf(g.blk::flush), "flushes still pass");

            assertTrue(g.driver.removeRule(rule));
            assertFalse(g.driver.removeRule(rule), "removed once only");
            g.blk.read(8192, in);
            assertArrayEquals(data, in.toArray(ValueLayout.JAVA_BYTE), "the write went to the file");
            assertEquals(1, g.driver.injectedErrors(RequestKind.READ));
        }
    }

    @Test
    void aRangeRuleFailsOnlyRequestsOverlappingItsRange() {
        try (FilterGraph<ErrorInjectionDriver> g = overNull(main)) {
            g.driver.addRule(ErrorRule.fail(Errno.EIO, RequestKind.READ, RequestKind.WRITE).inRange(65536, 4096));
            assertEquals(0, errnoOf(() -> g.blk.read(61440, buffer(4096))), "ends where the range starts");
            assertEquals(Errno.EIO, errnoOf(() -> g.blk.read(61440, buffer(4097))), "one byte into the range");
            assertEquals(Errno.EIO, errnoOf(() -> g.blk.write(69631, buffer(1), 0)), "the last byte of the range");
            assertEquals(Errno.EIO, errnoOf(() -> g.blk.read(0, buffer(131072))), "covers the range");
            assertEquals(0, errnoOf(() -> g.blk.write(69632, buffer(4096), 0)), "starts where the range ends");
            assertEquals(0, errnoOf(g.blk::flush), "a flush has no range: a range rule never matches it");
            assertEquals(3, g.driver.injectedErrors());
            assertEquals(3, g.driver.rules().getFirst().matchedRequests());
        }
    }

    @Test
    void anAfterRuleLetsTheFirstMatchingRequestsPassThenFailsEveryOther() {
        try (FilterGraph<ErrorInjectionDriver> g = overNull(main)) {
            ArmedErrorRule rule = g.driver.addRule(ErrorRule.fail(Errno.EIO, RequestKind.WRITE).after(3));
            for (int i = 0; i < 3; i++) {
                assertEquals(0, errnoOf(() -> g.blk.write(0, buffer(512), 0)), "write " + i);
                assertEquals(0, errnoOf(() -> g.blk.read(0, buffer(512))), "reads do not count");
            }
            for (int i = 3; i < 6; i++) {
                assertEquals(Errno.EIO, errnoOf(() -> g.blk.write(0, buffer(512), 0)), "write " + i);
            }
            assertEquals(6, rule.matchedRequests());
            assertEquals(3, rule.injectedErrors());
            assertFalse(rule.isSpent());
        }
    }

    @Test
    void aOnceRuleFailsOneRequestAndIsRemoved() {
        try (FilterGraph<ErrorInjectionDriver> g = overNull(main)) {
            ArmedErrorRule rule = g.driver.addRule(ErrorRule.fail(Errno.EIO, RequestKind.READ).onlyOnce());
            assertEquals(Errno.EIO, errnoOf(() -> g.blk.read(0, buffer(512))));
            assertEquals(0, errnoOf(() -> g.blk.read(0, buffer(512))));
            assertEquals(0, errnoOf(() -> g.blk.read(0, buffer(512))));
            assertTrue(rule.isSpent());
            assertEquals(List.of(), g.driver.rules());
            assertEquals(1, g.driver.injectedErrors());
            assertFalse(g.driver.removeRule(rule));
        }
    }

    @Test
    void afterAndOnceTogetherFailExactlyTheRequestAfterTheCount() {
        try (FilterGraph<ErrorInjectionDriver> g = overNull(main)) {
            g.driver.addRule(ErrorRule.fail(Errno.ENOSPC, RequestKind.WRITE_ZEROES).after(2).onlyOnce());
            int[] expected = {0, 0, Errno.ENOSPC, 0, 0};
            for (int i = 0; i < expected.length; i++) {
                assertEquals(expected[i], errnoOf(() -> g.blk.writeZeroes(0, 4096, 0)), "write-zeroes " + i);
            }
        }
    }

    @Test
    void rulesAreCheckedInOrderAndTheFirstThatFailsARequestWins() {
        try (FilterGraph<ErrorInjectionDriver> g = overNull(main)) {
            ArmedErrorRule first = g.driver.addRule(ErrorRule.fail(Errno.EIO, RequestKind.READ).after(1));
            ArmedErrorRule second = g.driver.addRule(ErrorRule.fail(Errno.ENOSPC, RequestKind.READ));
            // First read: the first rule counts it and lets it pass; the second fails it.
            assertEquals(Errno.ENOSPC, errnoOf(() -> g.blk.read(0, buffer(512))));
            // Second read: the first rule fails it; the second never sees it.
            assertEquals(Errno.EIO, errnoOf(() -> g.blk.read(0, buffer(512))));
            assertEquals(2, first.matchedRequests());
            assertEquals(1, first.injectedErrors());
            assertEquals(1, second.matchedRequests());
            assertEquals(1, second.injectedErrors());
            g.driver.clearRules();
            assertEquals(0, errnoOf(() -> g.blk.read(0, buffer(512))));
        }
    }

    @Test
    void describesItselfAndMirrorsTheChild() {
        try (FilterGraph<ErrorInjectionDriver> g = overNull(main)) {
            assertEquals("blkdebug", g.driver.formatName());
            assertEquals(SIZE, g.filter.length());
            assertEquals(g.base.limits(), g.filter.limits());
            assertEquals(g.base.driver().supportedWriteFlags(), g.driver.supportedWriteFlags());
            assertEquals(List.of(g.driver.file()), g.filter.children());
            g.driver.addRule(ErrorRule.fail(Errno.EIO, RequestKind.READ).inRange(0, 512).after(2));
            assertEquals(List.of("rules: 1", "rule: read -> errno 5 in [0, 512) after 2 (matched 0, failed 0)",
                    "injected errors: 0"), g.driver.describe());
        }
    }

    @Test
    void badRulesAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> ErrorRule.fail(0, RequestKind.READ));
        assertThrows(IllegalArgumentException.class, () -> ErrorRule.fail(-Errno.EIO, RequestKind.READ));
        assertThrows(IllegalArgumentException.class, () -> ErrorRule.fail(ErrorRule.MAX_ERRNO + 1, RequestKind.READ));
        ErrorRule.fail(ErrorRule.MAX_ERRNO, RequestKind.READ); // the largest is taken
        assertThrows(IllegalArgumentException.class, () -> ErrorRule.fail(Errno.EIO, RequestKind.READ).inRange(-5, 10));
        assertThrows(IllegalArgumentException.class, () -> ErrorRule.fail(Errno.EIO, RequestKind.READ).inRange(0, 0));
        assertThrows(IllegalArgumentException.class, () -> ErrorRule.fail(Errno.EIO, RequestKind.READ).after(-1));
        assertThrows(IllegalArgumentException.class,
                () -> new ErrorRule(java.util.Set.of(), Errno.EIO, ErrorRule.ANY_OFFSET, 0, 0, false));
    }

    /**
     * A plain thread does reads and writes without pause on a node living in an IOThread while the test thread arms
     * and disarms a read rule: only reads fail, each failure is counted by the driver, and reads succeed again once
     * the rule is gone.
     */
    @Test
    void rulesAddedAndRemovedWhileRequestsRunInAnIoThread() throws Exception {
        try (IOThread io = new IOThread("io-blkdebug").start()) {
            FilterGraph<ErrorInjectionDriver> g = overNull(io.context());
            try {
                AtomicBoolean stop = new AtomicBoolean();
                AtomicLong requests = new AtomicLong();
                AtomicLong readOk = new AtomicLong();
                AtomicLong readEio = new AtomicLong();
                ConcurrentLinkedQueue<String> unexpected = new ConcurrentLinkedQueue<>();
                AtomicReference<Throwable> crash = new AtomicReference<>();
                MemorySegment buf = buffer(4096);
                Thread worker = Thread.ofPlatform().name("blkdebug-worker").start(() -> {
                    try {
                        for (long i = 0; !stop.get(); i++) {
                            long offset = (i * 4096) % SIZE;
                            int w = errnoOf(() -> g.blk.write(offset, buf, 0));
                            if (w != 0) {
                                unexpected.add("write failed with errno " + w);
                            }
                            int r = errnoOf(() -> g.blk.read(offset, buf));
                            if (r == Errno.EIO) {
                                readEio.incrementAndGet();
                            } else if (r == 0) {
                                readOk.incrementAndGet();
                            } else {
                                unexpected.add("read failed with errno " + r);
                            }
                            requests.incrementAndGet();
                        }
                    } catch (Throwable t) {
                        crash.set(t);
                    }
                });
                try {
                    awaitTrue(() -> requests.get() >= 50, "the worker runs");
                    ArmedErrorRule rule = g.driver.addRule(ErrorRule.fail(Errno.EIO, RequestKind.READ));
                    awaitTrue(() -> rule.injectedErrors() >= 20, "reads fail");
                    assertTrue(g.driver.removeRule(rule));
                    // A read being checked while the rule was removed may still fail by it (the documented
                    // contract); two more completed requests of the worker mean that read has finished.
                    long requestsAtRemoval = requests.get();
                    awaitTrue(() -> requests.get() >= requestsAtRemoval + 2, "the read in flight at removal ends");
                    long failedWhileArmed = rule.injectedErrors();
                    long okAtRemoval = readOk.get();
                    awaitTrue(() -> readOk.get() >= okAtRemoval + 50, "reads pass again");
                    assertEquals(failedWhileArmed, rule.injectedErrors(), "no failure after the rule was removed");

                    // Once-rules armed one after the other from this thread: each fails exactly one read.
                    long eioBefore = readEio.get();
                    for (int i = 0; i < 20; i++) {
                        ArmedErrorRule once = g.driver.addRule(ErrorRule.fail(Errno.EIO, RequestKind.READ).onlyOnce());
                        awaitTrue(once::isSpent, "once-rule " + i + " fires");
                    }
                    awaitTrue(() -> readEio.get() == eioBefore + 20, "the worker saw each once-rule's failure");
                } finally {
                    stop.set(true);
                    worker.join(TimeUnit.SECONDS.toMillis(10));
                }
                assertNull(crash.get());
                assertEquals(List.of(), List.copyOf(unexpected));
                assertEquals(readEio.get(), g.driver.injectedErrors(RequestKind.READ), "every injected error was seen");
                assertEquals(0, g.driver.injectedErrors(RequestKind.WRITE));
                assertEquals(List.of(), g.driver.rules());
            } finally {
                g.close();
            }
        }
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
