package io.blockloop.aio;

import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Many threads schedule one-shot BHs, a shared persistent BH and timers into one context, 100k rounds: nothing
 * lost, nothing run twice. "busy": the loop busy-polls (IOThread default) and producers never pause;
 * "sleeping": no busy polling and producers pause now and then, so most wake-ups go through the eventfd.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class CrossThreadStressTest {
    private static final int PRODUCERS = 4;
    private static final int ROUNDS = 100_000;

    static Stream<Arguments> cases() {
        List<Arguments> cases = new ArrayList<>();
        for (TestMonitor monitor : TestMonitor.values()) {
            cases.add(Arguments.of(monitor, true));
            cases.add(Arguments.of(monitor, false));
        }
        return cases.stream();
    }

    @ParameterizedTest(name = "{0}, busy={1}")
    @MethodSource("cases")
    void nothingIsLostAndNothingRunsTwice(TestMonitor monitor, boolean busy) throws Exception {
        AtomicIntegerArray bhRuns = new AtomicIntegerArray(ROUNDS);
        AtomicIntegerArray timerRuns = new AtomicIntegerArray(ROUNDS);
        CountDownLatch allRan = new CountDownLatch(2 * ROUNDS);
        AtomicLong persistentRequests = new AtomicLong();
        long[] persistentSeen = {0};
        long[] persistentRuns = {0};
        PollParams params = busy ? PollParams.IOTHREAD_DEFAULT : PollParams.OFF;
        IOThread io = new IOThread("stress", monitor.factory, params).start();
        try {
            AioContext ctx = io.context();
            BottomHalf persistent = ctx.newBottomHalf("persistent", () -> {
                persistentRuns[0]++;
                persistentSeen[0] = persistentRequests.get();
            });
            List<Thread> producers = new ArrayList<>();
            int perProducer = ROUNDS / PRODUCERS;
            for (int p = 0; p < PRODUCERS; p++) {
                int base = p * perProducer;
                producers.add(Thread.ofPlatform().name("producer-" + p).start(() -> {
                    ThreadLocalRandom random = ThreadLocalRandom.current();
                    for (int i = base; i < base + perProducer; i++) {
                        int id = i;
                        ctx.scheduleOneShot("one-shot", () -> {
                            bhRuns.incrementAndGet(id);
                            allRan.countDown();
                        });
                        Timer[] timer = new Timer[1];
                        timer[0] = ctx.newTimer("timer", () -> {
                            timerRuns.incrementAndGet(id);
                            timer[0].delete();
                            allRan.countDown();
                        });
                        timer[0].modAfterNs(random.nextLong(50_000));
                        persistentRequests.incrementAndGet();
                        persistent.schedule();
                        if (!busy && (i & 63) == 0) {
                            LockSupport.parkNanos(50_000);
                        }
                    }
                }));
            }
            for (Thread producer : producers) {
                producer.join(TimeUnit.SECONDS.toMillis(30));
                assertTrue(!producer.isAlive(), producer.getName() + " stuck");
            }
            if (!allRan.await(30, TimeUnit.SECONDS)) {
                fail(allRan.getCount() + " callbacks never ran");
            }
            for (int i = 0; i < ROUNDS; i++) {
                if (bhRuns.get(i) != 1 || timerRuns.get(i) != 1) {
                    fail("round " + i + ": BH ran " + bhRuns.get(i) + "x, timer ran " + timerRuns.get(i) + "x");
                }
            }
            // Scheduled after every producer ended, so it runs after the persistent BH's last queued run.
            CountDownLatch read = new CountDownLatch(1);
            long[] seen = new long[3];
            ctx.scheduleOneShot("read-persistent", () -> {
                seen[0] = persistentSeen[0];
                seen[1] = persistentRuns[0];
                seen[2] = ctx.blockingWaitCount();
                read.countDown();
            });
            Loops.await(read, "reading the persistent BH's state");
            assertEquals(ROUNDS, seen[0], "the last schedule of the persistent BH was lost");
            assertTrue(seen[1] >= 1 && seen[1] <= ROUNDS, "persistent BH ran " + seen[1] + " times");
            if (!busy) {
                assertTrue(seen[2] > 0, "the 'sleeping' loop never went to sleep");
            }
            persistent.delete();
        } finally {
            io.stop();
            assertTrue(io.join(Duration.ofSeconds(10)), "IOThread did not stop");
        }
    }
}
