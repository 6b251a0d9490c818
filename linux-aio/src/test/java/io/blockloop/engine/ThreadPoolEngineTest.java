package io.blockloop.engine;

import io.blockloop.ffm.errno.Errno;
import io.blockloop.ffm.libc.FileIo;
import io.blockloop.ffm.libc.OpenFlags;
import io.blockloop.ffm.memory.AlignedBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/** The thread pool's own behaviour, mirroring QEMU's {@code tests/unit/test-thread-pool.c}. */
class ThreadPoolEngineTest {
    @TempDir
    Path dir;

    /** {@code /thread-pool/submit-aio}: the work runs on a worker, the completion waits for the owner's reaping. */
    @Test
    void aFinishedCallIsDeliveredOnlyByTheOwnersReapingCall() throws Exception {
        try (ThreadPoolEngine engine = ThreadPoolEngine.open()) {
            CountDownLatch ran = new CountDownLatch(1);
            Thread[] worker = new Thread[1];
            Recorder rec = new Recorder(1);
            engine.submitCall(() -> {
                worker[0] = Thread.currentThread();
                ran.countDown();
                return 0;
            }, rec, 0);
            assertTrue(ran.await(60, TimeUnit.SECONDS), "the call never ran");
            assertEquals(0, rec.completed, "delivered before the owner reaped");
            rec.awaitCompleted(engine, 1);
            assertEquals(0, rec.results[0]);
            assertSame(Thread.currentThread(), rec.threads[0]);
            assertTrue(worker[0].getName().startsWith("blockloop-pool-"), worker[0].getName());
        }
    }

    /** {@code /thread-pool/submit-many}: far more requests than threads all complete. */
    @Test
    void manyMoreRequestsThanWorkersAllComplete() {
        try (ThreadPoolEngine engine = ThreadPoolEngine.open(0, 4, Duration.ofSeconds(10))) {
            AtomicInteger running = new AtomicInteger();
            AtomicInteger maxRunning = new AtomicInteger();
            Recorder rec = new Recorder(100);
            for (int i = 0; i < 100; i++) {
                long value = i;
                engine.submitCall(() -> {
                    maxRunning.accumulateAndGet(running.incrementAndGet(), Math::max);
                    Thread.onSpinWait();
                    running.decrementAndGet();
                    return value;
                }, rec, i);
            }
            rec.awaitCompleted(engine, 100);
            for (int i = 0; i < 100; i++) {
                assertEquals(i, rec.results[i]);
                assertEquals(1, rec.calls[i]);
            }
            assertTrue(engine.threads() <= 4, "threads: " + engine.threads());
            assertTrue(maxRunning.get() <= 4, "concurrent calls: " + maxRunning.get());
        }
    }

    /**
     * {@code /thread-pool/cancel}: with every worker busy, requests that have not started are cancelled and complete
     * with {@code -ECANCELED}; the running ones cannot be cancelled and finish normally; no completion is lost.
     */
    @Test
    void cancelCompletesWaitingRequestsWithEcanceledAndLetsRunningOnesFinish() throws Exception {
        int fd = TestFiles.createWithPattern(dir.resolve("c.img"), 64 * 1024, OpenFlags.O_RDWR | OpenFlags.O_DIRECT);
        try (ThreadPoolEngine engine = ThreadPoolEngine.open(0, 4, Duration.ofSeconds(10));
             AlignedBuffer buf = AlignedBuffer.allocate(20 * 4096, 4096)) {
            CountDownLatch release = new CountDownLatch(1);
            Recorder rec = new Recorder(24);
            long[] blockers = HeldWorkers.hold(engine, 4, release, rec);
            long[] reads = new long[20];
            for (int i = 0; i < 20; i++) {
                reads[i] = engine.read(fd, buf.segment().asSlice(i * 4096L, 4096), i * 4096L, rec, 4 + i);
            }
            for (long b : blockers) {
                assertFalse(engine.cancel(b), "a running request must not be cancellable");
            }
            for (int i = 0; i < 20; i += 2) {
                assertTrue(engine.cancel(reads[i]), "read " + i + " is waiting for a worker");
            }
            assertEquals(0, rec.completed, "cancel must not call the handler itself");
            release.countDown();
            rec.awaitCompleted(engine, 24);
            for (int i = 0; i < 4; i++) {
                assertEquals(HeldWorkers.RESULT, rec.results[i], "blocker " + i);
            }
            for (int i = 0; i < 20; i++) {
                assertEquals(i % 2 == 0 ? -Errno.ECANCELED : 4096, rec.results[4 + i], "read " + i);
                assertEquals(1, rec.calls[4 + i]);
            }
        } finally {
            FileIo.close(fd);
        }
    }

    @Test
    void idleWorkersExitAfterTheIdleTimeoutDownToTheMinimum() throws Exception {
        try (ThreadPoolEngine engine = ThreadPoolEngine.open(2, 8, Duration.ofMillis(50))) {
            assertEquals(2, engine.threads(), "min threads are started at once");
            CountDownLatch release = new CountDownLatch(1);
            Recorder rec = new Recorder(8);
            HeldWorkers.hold(engine, 8, release, rec);
            assertEquals(8, engine.threads());
            release.countDown();
            rec.awaitCompleted(engine, 8);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (engine.threads() > 2) {
                assertTrue(System.nanoTime() < deadline, "idle workers did not exit: " + engine.threads());
                Thread.sleep(10);
            }
            assertEquals(2, engine.threads(), "min threads stay");
        }
    }

    @Test
    void withoutAMinimumEveryIdleWorkerExits() throws Exception {
        try (ThreadPoolEngine engine = ThreadPoolEngine.open(0, 4, Duration.ofMillis(20))) {
            Recorder rec = new Recorder(4);
            for (int i = 0; i < 4; i++) {
                engine.submitCall(() -> 0, rec, i);
            }
            rec.awaitCompleted(engine, 4);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (engine.threads() > 0) {
                assertTrue(System.nanoTime() < deadline, "idle workers did not exit: " + engine.threads());
                Thread.sleep(10);
            }
            // and the pool still works afterwards
            engine.submitCall(() -> 7, rec, 0);
            rec.awaitCompleted(engine, 5);
            assertEquals(7, rec.results[0]);
        }
    }

    @Test
    void aCallThatThrowsCompletesWithEioAndTheThrowableReachesTheOwner() {
        try (ThreadPoolEngine engine = ThreadPoolEngine.open()) {
            Recorder rec = new Recorder(2);
            engine.submitCall(() -> {
                throw new IllegalArgumentException("boom");
            }, rec, 0);
            engine.submitCall(() -> 5, rec, 1);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            boolean thrown = false;
            while (rec.completed < 2) {
                assertTrue(System.nanoTime() < deadline, "stuck");
                try {
                    engine.awaitCompletions(100_000_000L);
                } catch (IllegalArgumentException e) {
                    assertEquals("boom", e.getMessage());
                    thrown = true;
                }
            }
            assertTrue(thrown, "the call's exception was not rethrown on the owner thread");
            assertEquals(-Errno.EIO, rec.results[0]);
            assertEquals(5, rec.results[1]);
        }
    }

    /**
     * Buffers and iovecs from an arena confined to the owner thread work: workers use raw addresses, and the
     * zero-fill after end of file runs on the owner thread.
     */
    @Test
    void confinedArenaBuffersWorkAndAreZeroFilledOnTheOwnerThread() {
        int fd = TestFiles.createWithPattern(dir.resolve("conf.img"), 10_000, OpenFlags.O_RDWR);
        try (ThreadPoolEngine engine = ThreadPoolEngine.open(); Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(8192, 4096);
            buf.fill((byte) 0x5a);
            Recorder rec = new Recorder(2);
            engine.read(fd, buf, 4096, rec, 0);
            rec.awaitCompleted(engine, 1);
            assertEquals(8192, rec.results[0]);
            assertNull(TestFiles.checkPatternThenZeros(buf, 4096, 10_000));
            MemorySegment iov = arena.allocate(32, 8);
            io.blockloop.ffm.libc.IoVec.set(iov, 0, buf.asSlice(0, 4096));
            io.blockloop.ffm.libc.IoVec.set(iov, 1, buf.asSlice(4096, 4096));
            buf.fill((byte) 0x5a);
            engine.readv(fd, iov, 2, 8192, rec, 1);
            rec.awaitCompleted(engine, 2);
            assertEquals(8192, rec.results[1]);
            assertNull(TestFiles.checkPatternThenZeros(buf, 8192, 10_000));
        } finally {
            FileIo.close(fd);
        }
    }

    /**
     * close() from inside a BlockingCall is refused: the worker would wait for its own call for ever, and the
     * owner's close then returned at once ("already closed"), leaking the eventfd, the native memory and the thread.
     * The call fails (its exception is the request's -EIO and is rethrown to the owner), and the owner's close
     * releases everything.
     */
    @Test
    void closeFromInsideABlockingCallIsRefusedAndTheOwnerClosesTheEngine() throws Exception {
        long memoryBefore = EngineMemory.liveBytes();
        ThreadPoolEngine engine = ThreadPoolEngine.open();
        Recorder rec = new Recorder(1);
        Thread[] worker = new Thread[1];
        engine.submitCall(() -> {
            worker[0] = Thread.currentThread();
            engine.close();
            return 0;
        }, rec, 0);
        IllegalStateException thrown = assertThrows(IllegalStateException.class, () -> rec.awaitCompleted(engine, 1));
        assertTrue(thrown.getMessage().contains("closed from one of its own workers"), thrown.getMessage());
        assertEquals(-Errno.EIO, rec.results[0]);
        engine.close();
        assertFalse(worker[0].isAlive(), "the worker outlived the owner's close()");
        assertEquals(memoryBefore, EngineMemory.liveBytes());
    }

    @Test
    void closeJoinsTheWorkers() throws Exception {
        ThreadPoolEngine engine = ThreadPoolEngine.open(3, 8, Duration.ofSeconds(10));
        Thread[] workers = new Thread[1];
        Recorder rec = new Recorder(1);
        engine.submitCall(() -> {
            workers[0] = Thread.currentThread();
            return 0;
        }, rec, 0);
        rec.awaitCompleted(engine, 1);
        engine.close();
        assertFalse(workers[0].isAlive(), "a worker outlived close()");
        assertEquals(0, engine.threads());
        assertThrows(IllegalStateException.class, () -> engine.submitCall(() -> 0, rec, 0));
    }

    /**
     * At queue depth 1 the worker that finished spins for the owner's next request and takes it, and the owner
     * wakes nobody although another worker is parked. The window starts at 60 s here, so the order is certain: the
     * test queues the request only once it sees the worker spinning.
     */
    @Test
    void theWorkerThatFinishedTheOnlyRequestSpinsForTheNextOne() throws Exception {
        try (ThreadPoolEngine engine = spinningPool(60_000_000_000L, 60_000_000_000L)) {
            Recorder rec = new Recorder(2);
            runOneAndSeeTheWorkerSpin(engine, rec);
            long wakeupsBefore = engine.wakeups;
            engine.submitCall(() -> 8, rec, 1);
            rec.awaitCompleted(engine, 2);
            assertEquals(7, rec.results[0]);
            assertEquals(8, rec.results[1]);
            assertEquals(1, engine.spinCatches, "the spinning worker did not take the request");
            assertEquals(wakeupsBefore, engine.wakeups, "the owner woke the parked worker too");
            assertEquals(2, engine.threads(), "a worker was started for it");
        }
    }

    /**
     * A spinner whose heartbeat is stale (the scheduler took it off its CPU; here: a negative limit makes every
     * heartbeat stale) is not trusted to take the request: the owner wakes the parked worker, and the request
     * completes.
     */
    @Test
    void aPreemptedSpinnerGetsAParkedWorkerWokenInItsPlace() throws Exception {
        try (ThreadPoolEngine engine = spinningPool(60_000_000_000L, -1)) {
            Recorder rec = new Recorder(2);
            runOneAndSeeTheWorkerSpin(engine, rec);
            long wakeupsBefore = engine.wakeups;
            engine.submitCall(() -> 8, rec, 1);
            rec.awaitCompleted(engine, 2);
            assertEquals(8, rec.results[1]);
            assertEquals(wakeupsBefore + 1, engine.wakeups, "the parked worker was not woken");
            assertEquals(2, engine.threads(), "a worker was started although one was parked");
        }
    }

    /** Closing the pool ends a spin at once, however long its window. */
    @Test
    void closeEndsASpin() throws Exception {
        ThreadPoolEngine engine = spinningPool(600_000_000_000L, 600_000_000_000L);
        runOneAndSeeTheWorkerSpin(engine, new Recorder(1));
        long start = System.nanoTime();
        engine.close();
        assertEquals(0, engine.threads());
        assertTrue(System.nanoTime() - start < 60_000_000_000L, "close waited for the spin window");
    }

    /**
     * 2 to 4 workers (so one is parked while the other spins); the spin window starts at (and may stay up to)
     * {@code windowNanos}; a spinner's heartbeat goes stale after {@code staleNanos}.
     */
    private static ThreadPoolEngine spinningPool(long windowNanos, long staleNanos) {
        WorkerSpin spin = new WorkerSpin(windowNanos, windowNanos, staleNanos);
        return ThreadPoolEngine.open(2, 4, Duration.ofSeconds(10), spin);
    }

    /**
     * Runs the call "return 7" as request 0, then waits until its worker spins for the next request and every other
     * worker is parked (not still about to look at the queue, where it could take the next request first).
     */
    private static void runOneAndSeeTheWorkerSpin(ThreadPoolEngine engine, Recorder rec) throws InterruptedException {
        engine.submitCall(() -> 7, rec, 0);
        rec.awaitCompleted(engine, 1);
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (!engine.spinning() || engine.idleWorkers() != engine.threads() - 1) {
            assertTrue(System.nanoTime() < deadline, "the worker never started to spin");
            Thread.sleep(1);
        }
    }

    /** With spinning off ({@link Duration#ZERO}), no worker ever spins. */
    @Test
    void aZeroMaximumTurnsSpinningOff() {
        try (ThreadPoolEngine engine = ThreadPoolEngine.open(0, 4, Duration.ofSeconds(10), Duration.ZERO)) {
            Recorder rec = new Recorder(50);
            for (int i = 0; i < 50; i++) {
                long value = i;
                engine.submitCall(() -> value, rec, i);
                assertFalse(engine.spinning());
                rec.awaitCompleted(engine, i + 1);
                assertEquals(i, rec.results[i]);
            }
            assertEquals(0, engine.spinCatches);
        }
    }

    /**
     * A worker does not spin while other workers run requests (a spinner would take a CPU from them): the same
     * one-at-a-time requests as above, now beside three long-running calls, are never found by a spinner.
     */
    @Test
    void noWorkerSpinsWhileOthersRun() throws Exception {
        try (ThreadPoolEngine engine = spinningPool(60_000_000_000L, 60_000_000_000L)) {
            runOneAtATimeBesideThreeRunning(engine, 100,
                    () -> assertEquals(0, engine.spinCatches, "a worker spun while three others were running"));
        }
    }

    /**
     * The owner's spin in {@code awaitCompletions}: with a window it cannot outgrow (10 s), the owner catches every
     * completion of its only request by spinning, and never sleeps on the eventfd. Each call lasts 200 µs: an
     * instant call could be over before the owner first looks (the woken worker may preempt the owner on its own
     * CPU), and a completion found by that first look is no spin's catch. Seen once in CI, in 50 requests.
     */
    @Test
    void theOwnerSpinsForTheCompletionOfItsOnlyRequest() {
        try (ThreadPoolEngine engine = ThreadPoolEngine.open(1, 4, Duration.ofSeconds(10), new WorkerSpin(0),
                new SpinWindow(10_000_000_000L, 10_000_000_000L))) {
            runOneAtATime(engine, 50, 200_000);
            assertTrue(engine.ownerSpin().catches() > 0, "the owner never caught a completion spinning");
            assertEquals(0, engine.ownerSpin().sleeps(), "the owner slept although its spin could not run out");
        }
    }

    /**
     * The owner does not spin while more than one request is in flight (it would take a CPU from the workers):
     * the same one-at-a-time requests beside three long-running calls are all waited for on the eventfd.
     */
    @Test
    void theOwnerDoesNotSpinBesideOtherRequests() throws Exception {
        try (ThreadPoolEngine engine = ThreadPoolEngine.open(0, 8, Duration.ofSeconds(10), new WorkerSpin(0),
                new SpinWindow(10_000_000_000L, 10_000_000_000L))) {
            runOneAtATimeBesideThreeRunning(engine, 20,
                    () -> assertEquals(0, engine.ownerSpin().catches(),
                            "the owner spun beside three running requests"));
        }
    }

    /**
     * With the default window (from 0, at most 50 µs), requests slower than the maximum (5 ms calls, as a slow
     * disk's reads) never open it: the owner sleeps for each and burns no CPU spinning.
     */
    @Test
    void theOwnersWindowStaysClosedForRequestsSlowerThanItsMaximum() {
        try (ThreadPoolEngine engine = ThreadPoolEngine.open(0, 4, Duration.ofSeconds(10))) {
            Recorder rec = new Recorder(20);
            for (int i = 0; i < 20; i++) {
                engine.submitCall(() -> {
                    long end = System.nanoTime() + 5_000_000;
                    for (long left; (left = end - System.nanoTime()) > 0; ) {
                        LockSupport.parkNanos(left);
                    }
                    return 0;
                }, rec, i);
                rec.awaitCompleted(engine, i + 1);
                assertEquals(0, rec.results[i]);
            }
            assertEquals(0, engine.ownerSpin().catches());
            assertEquals(0, engine.ownerSpin().window(), "the window opened for requests slower than its maximum");
        }
    }

    /** Runs {@code n} calls one at a time, call i returning i, each awaited before the next is submitted. */
    private static void runOneAtATime(ThreadPoolEngine engine, int n) {
        runOneAtATime(engine, n, 0);
    }

    /** {@link #runOneAtATime(ThreadPoolEngine, int)} with calls that each last {@code callNanos}. */
    private static void runOneAtATime(ThreadPoolEngine engine, int n, long callNanos) {
        Recorder rec = new Recorder(n);
        for (int i = 0; i < n; i++) {
            long value = i;
            engine.submitCall(() -> {
                long end = System.nanoTime() + callNanos;
                for (long left; (left = end - System.nanoTime()) > 0; ) {
                    LockSupport.parkNanos(left);
                }
                return value;
            }, rec, i);
            rec.awaitCompleted(engine, i + 1);
            assertEquals(i, rec.results[i]);
        }
    }

    /**
     * {@link #runOneAtATime} while three long-running calls hold workers (so more than one request is always in
     * flight), then {@code check} while they still do, then lets those three finish. (Not after: as the three
     * finish, the last is the only request in flight, and the owner may rightly spin for it.)
     */
    private static void runOneAtATimeBesideThreeRunning(ThreadPoolEngine engine, int n, Runnable check)
            throws InterruptedException {
        CountDownLatch release = new CountDownLatch(1);
        Recorder blocked = new Recorder(3);
        HeldWorkers.hold(engine, 3, release, blocked);
        runOneAtATime(engine, n);
        check.run();
        release.countDown();
        blocked.awaitCompleted(engine, 3);
    }

    @Test
    void invalidLimitsAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> ThreadPoolEngine.open(5, 4, Duration.ofSeconds(1)));
        assertThrows(IllegalArgumentException.class, () -> ThreadPoolEngine.open(0, 0, Duration.ofSeconds(1)));
        if (!ThreadPoolEngine.availability().available()) {
            fail("the thread pool is always available");
        }
    }
}
