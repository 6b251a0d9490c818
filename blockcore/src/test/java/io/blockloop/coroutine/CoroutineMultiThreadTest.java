package io.blockloop.coroutine;

import io.blockloop.aio.AioContext;
import io.blockloop.aio.testing.IoThreads;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * QEMU's test-aio-multithread.c with 5 IOThreads: lifecycle, cross-thread scheduling stress, and CoMutex under
 * contention (5 threads) and in hand-off (2 threads). Each stress phase runs for a fixed time (1 s); every wait
 * is bounded and fails instead of hanging. No assertion depends on timing.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class CoroutineMultiThreadTest {
    private static final int CONTEXTS = 5;
    private static final long STRESS_MS = 1_000;

    /** /aio/multi/lifecycle: five IOThreads, each with its own context and thread-local state, joined cleanly. */
    @Test
    void lifecycleOfFiveIOThreads() throws Exception {
        ThreadLocal<Integer> id = new ThreadLocal<>();
        try (IoThreads io = new IoThreads("multi-life", CONTEXTS)) {
            for (int i = 0; i < CONTEXTS; i++) {
                int k = i;
                io.runIn(i, () -> id.set(k));
            }
            for (int i = 0; i < CONTEXTS; i++) {
                int k = i;
                AioContext expected = io.ctx(i);
                io.runIn(i, () -> {
                    assertEquals(k, id.get());
                    assertSame(expected, AioContext.current());
                });
            }
        }
    }

    /**
     * /aio/multi/schedule: one coroutine per context; each round it schedules another context's parked coroutine
     * into that context (looking at the other slots from a random one on, so that the chain of schedules never
     * dies out) and parks itself; another thread may schedule it before it has yielded. At the end every context
     * wakes its own parked coroutine, and all five must terminate with every slot empty. The second coroutine to
     * start always finds the first one parked, so at least one cross-context schedule happens whatever the
     * machine's speed.
     */
    @Test
    void scheduleStressAcrossFiveContexts() throws Exception {
        AtomicReferenceArray<Coroutine> parked = new AtomicReferenceArray<>(CONTEXTS);
        AtomicLong scheduledHere = new AtomicLong();
        AtomicLong scheduledElsewhere = new AtomicLong();
        AtomicLong retries = new AtomicLong();
        AtomicInteger finished = new AtomicInteger();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        AtomicInteger stoppingFlag = new AtomicInteger();
        try (IoThreads io = new IoThreads("multi-sched", CONTEXTS)) {
            BooleanSupplier[] scheduleNext = new BooleanSupplier[CONTEXTS];
            for (int n = 0; n < CONTEXTS; n++) {
                int target = n;
                scheduleNext[n] = () -> {
                    Coroutine co = parked.getAndSet(target, null);
                    if (co == null) {
                        retries.incrementAndGet();
                        return false;
                    }
                    (AioContext.current() == io.ctx(target) ? scheduledHere : scheduledElsewhere).incrementAndGet();
                    co.schedule(io.ctx(target));
                    return true;
                };
            }
            for (int i = 0; i < CONTEXTS; i++) {
                int me = i;
                io.runIn(i, () -> Coroutine.create(() -> {
                    try {
                        while (stoppingFlag.get() == 0) {
                            int start = ThreadLocalRandom.current().nextInt(CONTEXTS);
                            for (int k = 0; k < CONTEXTS; k++) {
                                int n = (start + k) % CONTEXTS;
                                if (n != me && scheduleNext[n].getAsBoolean()) {
                                    break;
                                }
                            }
                            parked.set(me, Coroutine.self()); // volatile: someone may schedule us before we yield
                            Coroutine.yield();
                            if (parked.get(me) != null) {
                                throw new AssertionError("resumed while still parked in slot " + me);
                            }
                        }
                    } catch (Throwable t) {
                        failure.compareAndSet(null, t);
                    } finally {
                        finished.incrementAndGet();
                    }
                }).enter());
            }
            Thread.sleep(STRESS_MS);
            stoppingFlag.set(1);
            for (int i = 0; i < CONTEXTS; i++) {
                io.runIn(i, scheduleNext[i]::getAsBoolean); // wakes this context's own parked coroutine, if parked
            }
            IoThreads.waitUntil(() -> finished.get() == CONTEXTS, "all scheduling coroutines finished");
            assertNull(failure.get());
            for (int i = 0; i < CONTEXTS; i++) {
                assertNull(parked.get(i), "slot " + i);
                assertTrue(io.ctx(i).scheduledCoroutines().isEmpty());
            }
            assertTrue(scheduledElsewhere.get() > 0, "coroutines were scheduled across contexts");
            System.out.printf("schedule stress: %d scheduled here, %d elsewhere, %d retries%n",
                    scheduledHere.get(), scheduledElsewhere.get(), retries.get());
        }
    }

    /** /aio/multi/mutex/contended: coroutines in 5 contexts increment a counter under one CoMutex. */
    @Test
    void coMutexContendedByFiveContextsLosesNoUpdate() throws Exception {
        runMutexStress(CONTEXTS);
    }

    /** /aio/multi/mutex/handoff: the same with 2 contexts, which exercises the hand-off protocol. */
    @Test
    void coMutexHandOffBetweenTwoContextsLosesNoUpdate() throws Exception {
        runMutexStress(2);
    }

    private static void runMutexStress(int threads) throws Exception {
        CoMutex mutex = new CoMutex();
        long[] counter = {0}; // guarded by mutex
        AtomicLong atomicCounter = new AtomicLong();
        AtomicInteger stopping = new AtomicInteger();
        AtomicInteger running = new AtomicInteger();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        try (IoThreads io = new IoThreads("multi-mutex", threads)) {
            for (int i = 0; i < threads; i++) {
                running.incrementAndGet();
                Coroutine.create(() -> {
                    try {
                        do { // at least once, so that the count below does not depend on the machine's speed
                            mutex.lock();
                            counter[0]++;
                            mutex.unlock();
                            // Counted after the unlock, as in QEMU: the unlock may be what wakes the next holder.
                            atomicCounter.incrementAndGet();
                        } while (stopping.get() == 0);
                        if (Coroutine.self().locksHeld() != 0) {
                            throw new AssertionError("locks held at the end: " + Coroutine.self().locksHeld());
                        }
                    } catch (Throwable t) {
                        failure.compareAndSet(null, t);
                    } finally {
                        running.decrementAndGet();
                    }
                }).schedule(io.ctx(i));
            }
            Thread.sleep(STRESS_MS);
            stopping.set(1);
            IoThreads.waitUntil(() -> running.get() == 0, "all " + threads + " mutex coroutines finished");
            assertNull(failure.get());
            // running's volatile decrement after each coroutine's last update orders counter[0] for this read.
            assertEquals(atomicCounter.get(), counter[0], "updates lost under the CoMutex");
            assertTrue(counter[0] >= threads);
            System.out.printf("CoMutex with %d contexts: %d increments in %d ms%n", threads, counter[0], STRESS_MS);
        }
    }

    /** A CoRwLock shared by readers and writers in 3 contexts: writers exclude everyone, no update is lost. */
    @Test
    void coRwLockAcrossContextsKeepsWritersExclusive() throws Exception {
        int threads = 3;
        CoRwLock rw = new CoRwLock();
        long[] value = {0}; // written under the write lock
        AtomicInteger inside = new AtomicInteger(); // +1 per reader, +1000 per writer
        AtomicLong writes = new AtomicLong();
        AtomicInteger stopping = new AtomicInteger();
        AtomicInteger running = new AtomicInteger();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        CountDownLatch started = new CountDownLatch(threads * 2);
        try (IoThreads io = new IoThreads("multi-rw", threads)) {
            for (int i = 0; i < threads * 2; i++) {
                boolean writer = i % 2 == 0;
                running.incrementAndGet();
                Coroutine.create(() -> {
                    started.countDown();
                    try {
                        while (stopping.get() == 0) {
                            if (writer) {
                                rw.writeLock();
                                int now = inside.addAndGet(1000);
                                if (now != 1000) {
                                    throw new AssertionError("writer not alone: " + now);
                                }
                                value[0]++;
                                writes.incrementAndGet();
                                inside.addAndGet(-1000);
                                rw.unlock();
                            } else {
                                rw.readLock();
                                int now = inside.incrementAndGet();
                                if (now >= 1000) {
                                    throw new AssertionError("reader beside a writer: " + now);
                                }
                                inside.decrementAndGet();
                                rw.unlock();
                            }
                        }
                    } catch (Throwable t) {
                        failure.compareAndSet(null, t);
                    } finally {
                        running.decrementAndGet();
                    }
                }).schedule(io.ctx(i % threads));
            }
            IoThreads.await(started, "all rwlock coroutines started");
            Thread.sleep(STRESS_MS / 2);
            stopping.set(1);
            IoThreads.waitUntil(() -> running.get() == 0, "all rwlock coroutines finished");
            assertNull(failure.get());
            assertEquals(writes.get(), value[0]);
        }
    }
}
