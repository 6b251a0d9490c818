package io.blockloop.block.graph;

import io.blockloop.aio.AioContext;
import io.blockloop.aio.AioWait;
import io.blockloop.aio.MainLoop;
import io.blockloop.aio.testing.IoThreads;
import io.blockloop.coroutine.Coroutine;
import io.blockloop.fdmon.FdMonitorKind;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The graph lock's protocol (QEMU's {@code block/graph-lock.c}): readers in several IOThreads at once, a writer
 * that waits for them, readers that sleep while it writes and resume in their own context, readers that move
 * between contexts, contexts that close with a count, and the writer's hooks (drain, BHs). The main loop runs on
 * the test thread. Every wait is bounded; the writer waits with {@link GraphLock#tryWriteLock} wherever a reader
 * could keep it waiting, so a bug fails the test instead of hanging it.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class GraphLockTest {
    private static final long BOUND_NS = IoThreads.BOUND.toNanos();

    private AioContext main;

    @BeforeEach
    void startMainLoop() {
        main = MainLoop.init(FdMonitorKind.AUTO);
    }

    @AfterEach
    void endMainLoop() {
        main.close();
    }

    @Test
    void readersInSeveralIOThreadsHoldTheLockAtTheSameTime() {
        GraphLock lock = new GraphLock("concurrent-readers");
        int n = 3;
        try (IoThreads io = new IoThreads("concurrent", n)) {
            ParkingSpot[] spots = new ParkingSpot[n];
            CountDownLatch allIn = new CountDownLatch(n);
            CountDownLatch allOut = new CountDownLatch(n);
            for (int i = 0; i < n; i++) {
                ParkingSpot spot = spots[i] = new ParkingSpot("reader " + i);
                io.startCoroutine(i, () -> {
                    lock.readLock();
                    allIn.countDown();
                    spot.park();
                    lock.readUnlock();
                    allOut.countDown();
                });
            }
            IoThreads.await(allIn, "all readers inside");
            assertEquals(n, lock.readerCount());
            for (int i = 0; i < n; i++) {
                assertEquals(1, lock.readerCountOf(io.ctx(i)), "the count of " + io.ctx(i).name());
            }
            assertEquals(0, lock.readerCountOf(main), "the main context had no reader");
            assertFalse(lock.hasWriter());
            for (ParkingSpot spot : spots) {
                spot.release();
            }
            IoThreads.await(allOut, "all readers gone");
            assertEquals(0, lock.readerCount());
            assertEquals(0, lock.sleepingReaders());
        }
    }

    /**
     * Two readers hold the lock; the writer quiesces I/O, then waits in the main loop while they leave one by
     * one, and gets in only after the second has left; then it ends the quiesce.
     */
    @Test
    void theWriterWaitsUntilTheLastReaderHasLeft() throws Exception {
        List<String> events = Collections.synchronizedList(new ArrayList<>());
        GraphLock lock = new GraphLock("writer-waits", new RecordingDrain(events));
        try (IoThreads io = new IoThreads("writer-waits", 2)) {
            ParkingSpot[] spots = {new ParkingSpot("reader 0"), new ParkingSpot("reader 1")};
            CountDownLatch bothIn = new CountDownLatch(2);
            for (int i = 0; i < 2; i++) {
                int me = i;
                io.startCoroutine(i, () -> {
                    lock.readLock();
                    bothIn.countDown();
                    spots[me].park();
                    events.add("reader " + me + " leaves");
                    lock.readUnlock();
                });
            }
            IoThreads.await(bothIn, "both readers inside");

            AtomicReference<Throwable> releaserFailure = new AtomicReference<>();
            Thread releaser = Thread.ofPlatform().name("releaser").start(() -> {
                try {
                    IoThreads.waitUntil(() -> AioWait.waiters() > 0, () -> "the writer waiting in the main loop");
                    events.add("writer waits");
                    spots[0].release();
                    IoThreads.waitUntil(() -> lock.readerCount() == 1, () -> "reader 0 gone");
                    Thread.sleep(20); // time for a broken writer to get in early (the event order would show it)
                    spots[1].release();
                } catch (Throwable t) {
                    releaserFailure.set(t);
                }
            });
            assertTrue(lock.tryWriteLock(BOUND_NS), "the writer did not get in within the bound");
            events.add("writer in");
            assertTrue(lock.hasWriter());
            assertEquals(0, lock.readerCount());
            assertTrue(lock.assertWritable());
            lock.writeUnlock();
            assertFalse(lock.hasWriter());
            releaser.join(IoThreads.BOUND.toMillis());
            assertNull(releaserFailure.get());
            assertEquals(List.of("drain begin", "writer waits", "reader 0 leaves", "reader 1 leaves", "drain end",
                    "writer in"), events);
        }
    }

    /**
     * While the writer holds the lock, readers arriving in three IOThreads and in the main context go to sleep;
     * writeUnlock restarts each of them in its own context and thread, where it then holds the lock.
     */
    @Test
    void readersArrivingDuringAWriteSleepAndResumeInTheirOwnContext() {
        GraphLock lock = new GraphLock("sleeping-readers");
        int n = 3;
        int perContext = 2;
        int readers = n * perContext + 1;
        AtomicInteger entered = new AtomicInteger();
        AtomicBoolean mainReaderDone = new AtomicBoolean();
        ConcurrentLinkedQueue<String> mismatches = new ConcurrentLinkedQueue<>();
        CountDownLatch done = new CountDownLatch(readers);
        Runnable reader = () -> {
            AioContext home = Coroutine.self().context();
            Thread thread = Thread.currentThread();
            lock.readLock();
            entered.incrementAndGet();
            if (lock.hasWriter()) {
                mismatches.add("a reader got in while the writer holds the lock");
            }
            if (Coroutine.self().context() != home || AioContext.current() != home || Thread.currentThread() != thread) {
                mismatches.add("a reader of " + home.name() + " resumed in " + Coroutine.self().context() + " on "
                        + Thread.currentThread().getName());
            }
            lock.readUnlock();
            if (home == main) {
                mainReaderDone.set(true);
            }
            done.countDown();
        };
        try (IoThreads io = new IoThreads("sleepers", n)) {
            lock.writeLock();
            for (int i = 0; i < n; i++) {
                for (int k = 0; k < perContext; k++) {
                    io.startCoroutine(i, reader);
                }
            }
            Coroutine.create(reader).enter(); // a main-context reader: it sleeps and this enter returns
            IoThreads.waitUntil(() -> lock.sleepingReaders() == readers,
                    () -> readers + " sleeping readers (" + lock.sleepingReaders() + ")");
            assertEquals(0, entered.get(), "no reader got in during the write");
            assertEquals(0, lock.readerCount(), "sleeping readers count for nothing");

            lock.writeUnlock();
            assertTrue(mainReaderDone.get(), "the main-context reader ran inside writeUnlock, on this thread");
            IoThreads.await(done, "every reader restarted");
            assertEquals(readers, entered.get());
            assertTrue(mismatches.isEmpty(), mismatches.toString());
            assertEquals(0, lock.readerCount());
            assertEquals(0, lock.sleepingReaders());
        }
    }

    /**
     * A coroutine of the main context may take the read lock while the writer polls the main loop for readers
     * to leave: hasWriter is clear during that poll, so it does not sleep (which would deadlock: it would wait
     * for writeUnlock, and the writer for it).
     */
    @Test
    void aMainContextReaderRunByTheWritersPollDoesNotDeadlock() throws Exception {
        GraphLock lock = new GraphLock("main-reader-during-wait");
        try (IoThreads io = new IoThreads("holder", 1)) {
            ParkingSpot spot = new ParkingSpot("holder");
            CountDownLatch in = new CountDownLatch(1);
            io.startCoroutine(0, () -> {
                lock.readLock();
                in.countDown();
                spot.park();
                lock.readUnlock();
            });
            IoThreads.await(in, "the IOThread reader inside");

            AtomicBoolean mainReaderDone = new AtomicBoolean();
            AtomicReference<Throwable> releaserFailure = new AtomicReference<>();
            Thread releaser = Thread.ofPlatform().name("releaser").start(() -> {
                try {
                    IoThreads.waitUntil(() -> AioWait.waiters() > 0, () -> "the writer waiting");
                    Coroutine.create(() -> {
                        lock.readLock(); // in the main context, entered by the writer's poll
                        lock.readUnlock();
                        mainReaderDone.set(true);
                    }).schedule(main);
                    IoThreads.waitUntil(mainReaderDone::get, () -> "the main-context reader done");
                    spot.release();
                } catch (Throwable t) {
                    releaserFailure.set(t);
                }
            });
            assertTrue(lock.tryWriteLock(BOUND_NS), "the writer did not get in within the bound");
            lock.writeUnlock();
            releaser.join(IoThreads.BOUND.toMillis());
            assertNull(releaserFailure.get());
            assertTrue(mainReaderDone.get());
            assertEquals(0, lock.readerCount());
        }
    }

    /**
     * A reader that locks in one context and unlocks in another leaves +1 in the first and -1 in the second: the
     * total is zero, and the writer gets in at once.
     */
    @Test
    void aReaderThatMovesBetweenContextsLeavesTheTotalAtZero() {
        GraphLock lock = new GraphLock("moving-reader");
        try (IoThreads io = new IoThreads("move", 2)) {
            CountDownLatch done = new CountDownLatch(1);
            AtomicReference<AioContext> unlockedIn = new AtomicReference<>();
            io.startCoroutine(0, () -> {
                lock.readLock();
                Coroutine.rescheduleSelf(io.ctx(1));
                unlockedIn.set(AioContext.current());
                lock.readUnlock();
                done.countDown();
            });
            IoThreads.await(done, "the moving reader done");
            assertSame(io.ctx(1), unlockedIn.get());
            assertEquals(1, lock.readerCountOf(io.ctx(0)));
            assertEquals(-1, lock.readerCountOf(io.ctx(1)));
            assertEquals(0, lock.readerCount());
            assertTrue(lock.tryWriteLock(0), "no reader holds the lock: the writer needs no wait");
            lock.writeUnlock();
        }
    }

    /**
     * A context that closes while its count is +1 (its reader moved away still holding the lock) folds the +1
     * into the orphaned count: the reader still counts, the writer still waits for it, and when it unlocks in its
     * new context the total is zero again.
     */
    @Test
    void closingAContextFoldsItsCountIntoTheOrphanedCount() {
        List<String> events = Collections.synchronizedList(new ArrayList<>());
        GraphLock lock = new GraphLock("orphans", new RecordingDrain(events));
        try (IoThreads io = new IoThreads("orphans", 2)) {
            ParkingSpot spot = new ParkingSpot("moved reader");
            CountDownLatch moved = new CountDownLatch(1);
            CountDownLatch done = new CountDownLatch(1);
            io.startCoroutine(0, () -> {
                lock.readLock();
                Coroutine.rescheduleSelf(io.ctx(1));
                moved.countDown();
                spot.park();
                lock.readUnlock();
                done.countDown();
            });
            IoThreads.await(moved, "the reader moved to context 1");
            AioContext first = io.ctx(0);
            io.stopAndJoin(0);
            assertTrue(first.isClosed());
            assertEquals(1, lock.orphanedReaderCount(), "context 0's +1 is orphaned");
            assertEquals(0, lock.readerCountOf(io.ctx(1)));
            assertEquals(1, lock.readerCount(), "the reader still holds the lock");

            assertFalse(lock.tryWriteLock(TimeUnit.MILLISECONDS.toNanos(50)), "the writer must wait for the reader");
            assertFalse(lock.hasWriter(), "a writer that gave up leaves no writer behind");
            assertEquals(List.of("drain begin", "drain end"), events, "a writer that gave up ends its quiesce");

            spot.release();
            IoThreads.await(done, "the reader unlocked in context 1");
            assertEquals(-1, lock.readerCountOf(io.ctx(1)));
            assertEquals(0, lock.readerCount());
            assertTrue(lock.tryWriteLock(BOUND_NS));
            lock.writeUnlock();
        }
        assertEquals(0, lock.readerCount(), "context 1's -1 is orphaned too");
        assertEquals(0, lock.orphanedReaderCount());
    }

    /** QEMU's wrunlock runs aio_bh_poll: a BH scheduled inside the write section has run when writeUnlock returns. */
    @Test
    void writeUnlockRunsTheBhsScheduledInsideTheWriteSection() {
        GraphLock lock = new GraphLock("bhs");
        AtomicBoolean ran = new AtomicBoolean();
        lock.writeLock();
        main.scheduleOneShot("deferred-unref", () -> {
            assertFalse(lock.hasWriter(), "the BH runs after the writer left");
            ran.set(true);
        });
        assertFalse(ran.get());
        lock.writeUnlock();
        assertTrue(ran.get());
    }

    @Test
    void theReadLockedScopeReleasesTheLock() {
        GraphLock lock = new GraphLock("scope");
        try (IoThreads io = new IoThreads("scope", 1)) {
            CountDownLatch done = new CountDownLatch(1);
            AtomicReference<Long> inside = new AtomicReference<>();
            AtomicReference<Throwable> failure = new AtomicReference<>();
            io.startCoroutine(0, () -> {
                try (GraphLock.ReadLockScope ignored = lock.readLocked()) {
                    inside.set(lock.readerCount());
                    assertTrue(lock.assertReadable());
                } catch (Throwable t) {
                    failure.set(t);
                } finally {
                    done.countDown();
                }
            });
            IoThreads.await(done, "the scoped reader");
            assertNull(failure.get());
            assertEquals(1L, inside.get());
            assertEquals(0, lock.readerCount());
        }
    }

    /** The main loop reads without a lock: the main-loop variants count nothing and the graph is readable there. */
    @Test
    void theMainLoopReaderVariantsTakeNothing() {
        GraphLock lock = new GraphLock("main-loop-reader");
        lock.readLockMainLoop();
        assertEquals(0, lock.readerCount());
        assertTrue(lock.assertReadable());
        lock.readUnlockMainLoop();
        assertTrue(lock.tryWriteLock(0));
        assertTrue(lock.assertReadable(), "the writer may read too");
        lock.writeUnlock();
    }

    /** Records the writer's quiesce calls. */
    private record RecordingDrain(List<String> events) implements DrainAll {
        @Override
        public void beginNoPoll() {
            events.add("drain begin");
        }

        @Override
        public void end() {
            events.add("drain end");
        }
    }
}
