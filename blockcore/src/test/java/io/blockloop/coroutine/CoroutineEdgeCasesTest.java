package io.blockloop.coroutine;

import io.blockloop.aio.AioContext;
import io.blockloop.aio.CallbackFailure;
import io.blockloop.aio.MainLoop;
import io.blockloop.aio.testing.IoThreads;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.lang.ref.WeakReference;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.ReentrantLock;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Faults an audit of the coroutine layer found (session 27), each fixed: a coroutine that ended while scheduled
 * went back to the pool with its stale schedule; a pooled coroutine kept its last body reachable;
 * {@link CoQueue#next()} spent its restart on a waiter lost in a closed context; and (session 28) a restart in a
 * fallback context entered a waiter that had not yet suspended.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class CoroutineEdgeCasesTest {

    private static boolean reported(CoroutineLogCapture log, String text) {
        synchronized (log.records) {
            return log.records.stream().anyMatch(r -> r.getMessage().contains(text));
        }
    }

    /**
     * A coroutine that schedules itself and then ends instead of yielding stays out of the pool. Pooled, its stale
     * entry on the context's list entered the next body made from it, which nobody had entered.
     */
    @Test
    void aCoroutineThatEndsWhileScheduledIsNotReused() {
        try (IoThreads io = new IoThreads("stale-schedule", 1); CoroutineLogCapture log = new CoroutineLogCapture()) {
            AtomicInteger secondRuns = new AtomicInteger();
            Coroutine[] made = new Coroutine[2];
            List<CallbackFailure> failures = new CopyOnWriteArrayList<>();
            io.ctx(0).setCallbackFailureListener(failures::add);
            io.runIn(0, () -> {
                made[0] = Coroutine.create(() -> Coroutine.self().schedule(AioContext.current()));
                made[0].enter(); // ends, still scheduled in its own context
                made[1] = Coroutine.create(secondRuns::incrementAndGet); // never entered by anyone
            });
            io.runIn(0, () -> { }); // the context's scheduled entries have run
            io.runIn(0, () -> { });
            assertNotSame(made[0], made[1], "the scheduled coroutine went back to the pool");
            assertEquals(0, secondRuns.get(), "a body ran that nobody entered");
            assertTrue(reported(log, "terminated while scheduled in context 'stale-schedule-0'"),
                    "the misuse is reported");
            assertEquals(1, failures.size(), failures.toString());
            assertTrue(failures.getFirst().error().getMessage().endsWith("it has terminated"), failures.toString());
        }
    }

    /** Across threads: the stale schedule in another context ran the reused coroutine's new body there. */
    @Test
    void aStaleScheduleDoesNotRunAnotherBodyOnAnotherThread() {
        try (IoThreads io = new IoThreads("stale-schedule-x", 2); CoroutineLogCapture log = new CoroutineLogCapture()) {
            CountDownLatch release = new CountDownLatch(1);
            CountDownLatch blocked = new CountDownLatch(1);
            io.ctx(1).scheduleOneShot("block", () -> {
                blocked.countDown();
                try {
                    release.await(10, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            IoThreads.await(blocked, "context 1 blocked"); // its next pass of scheduled coroutines comes later
            List<CallbackFailure> failures = new CopyOnWriteArrayList<>();
            io.ctx(1).setCallbackFailureListener(failures::add);
            AtomicReference<Thread> ranOn = new AtomicReference<>();
            io.runIn(0, () -> {
                Coroutine.create(() -> Coroutine.self().schedule(io.ctx(1))).enter(); // ends, scheduled in 1
                Coroutine.create(() -> ranOn.set(Thread.currentThread())); // made for context 0, not entered
                release.countDown();
            });
            io.runIn(1, () -> { });
            io.runIn(1, () -> { });
            assertNull(ranOn.get(), "a body that nobody entered ran on another context's thread");
            assertTrue(reported(log, "terminated while scheduled in context 'stale-schedule-x-1'"));
            assertEquals(1, failures.size(), failures.toString());
        }
    }

    /** A pooled coroutine keeps nothing of its last body: a local of the body loop kept it and its captures. */
    @Test
    void aPooledCoroutineKeepsNoReferenceToItsLastBody() throws InterruptedException {
        Object[] out = new Object[2];
        runOnceCapturing(new byte[16 << 20], out);
        @SuppressWarnings("unchecked")
        WeakReference<byte[]> captured = (WeakReference<byte[]>) out[0];
        assertTrue(collected(captured), "the pooled coroutine kept its last body's captured array reachable");
        assertSame(out[1], Coroutine.create(() -> { }), "the coroutine was in this thread's pool");
    }

    private static void runOnceCapturing(byte[] data, Object[] out) {
        out[0] = new WeakReference<>(data);
        Coroutine co = Coroutine.create(() -> data[0]++);
        co.enter(); // ends at once: back in this thread's pool
        out[1] = co;
    }

    private static boolean collected(WeakReference<?> ref) throws InterruptedException {
        for (int i = 0; i < 10 && ref.get() != null; i++) {
            System.gc();
            Thread.sleep(20);
        }
        return ref.get() == null;
    }

    /**
     * A context made with {@link AioContext#create} on a thread of the caller's is that thread's current one, so a
     * coroutine entered in its callbacks belongs to it, and a wake from another thread runs it there. Before, the
     * coroutine recorded no context, and the waker's thread ran it.
     */
    @Test
    void aCoroutineEnteredInACreatedContextIsWokenInThatContext() throws Exception {
        AtomicReference<Thread> resumedOn = new AtomicReference<>();
        AtomicReference<Coroutine> yielded = new AtomicReference<>();
        AtomicReference<AioContext> created = new AtomicReference<>();
        CountDownLatch ready = new CountDownLatch(1);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread home = Thread.ofPlatform().name("created-context-home").start(() -> {
            try (AioContext ctx = AioContext.create("created")) {
                created.set(ctx);
                assertSame(ctx, AioContext.current(), "the creating thread's current context");
                ctx.scheduleOneShot("enter", () -> Coroutine.create(() -> {
                    yielded.set(Coroutine.self());
                    Coroutine.yield();
                    resumedOn.set(Thread.currentThread());
                }).enter());
                ready.countDown();
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                while (resumedOn.get() == null && System.nanoTime() < deadline) {
                    ctx.poll(true);
                }
            } catch (Throwable t) {
                failure.set(t);
            }
        });
        IoThreads.await(ready, "context created");
        IoThreads.waitUntil(() -> yielded.get() != null, "coroutine yielded");
        assertSame(created.get(), yielded.get().context(), "the coroutine belongs to the created context");
        yielded.get().wake(); // from the test thread: scheduled in the created context
        home.join(TimeUnit.SECONDS.toMillis(20));
        assertNull(failure.get());
        assertSame(home, resumedOn.get(), "resumed on the context's home thread");
    }

    /**
     * A stray enter or wake of a coroutine waiting in a lock or queue is refused, and the lock still hands itself
     * on. Before, the waiter returned from {@code lock()} beside the holder, still on the wait list.
     */
    @Test
    void aStrayEnterOrWakeOfALockWaiterIsRefused() {
        CoMutex mutex = new CoMutex();
        CoRwLock rwLock = new CoRwLock();
        CoQueue queue = new CoQueue();
        Coroutine holder = Coroutine.create(() -> {
            mutex.lock();
            rwLock.writeLock();
            Coroutine.yield();
            rwLock.unlock();
            mutex.unlock();
        });
        holder.enter();
        List<String> inside = new ArrayList<>();
        Coroutine mutexWaiter = Coroutine.create(() -> {
            mutex.lock();
            inside.add("mutex");
            mutex.unlock();
        });
        Coroutine rwWaiter = Coroutine.create(() -> {
            rwLock.readLock();
            inside.add("rwlock");
            rwLock.unlock();
        });
        Coroutine queueWaiter = Coroutine.create(() -> {
            queue.await();
            inside.add("queue");
        });
        mutexWaiter.enter();
        rwWaiter.enter();
        queueWaiter.enter();
        for (Coroutine waiter : List.of(mutexWaiter, rwWaiter, queueWaiter)) {
            IllegalStateException entered = assertThrows(IllegalStateException.class, waiter::enter);
            assertTrue(entered.getMessage().contains("which alone resumes it"), entered.getMessage());
            assertThrows(IllegalStateException.class, waiter::wake);
        }
        assertEquals(List.of(), inside, "nobody got in beside the holder");
        holder.enter(); // releases both locks, each handing itself to its waiter
        assertTrue(queue.next());
        assertEquals(List.of("rwlock", "mutex", "queue"), inside);
        assertFalse(mutex.isLocked());
    }

    /**
     * {@link CoQueue#next()} whose first waiter is lost with its closed IOThread restarts the one behind it, and
     * reports the lost one. Before, the restart was spent on the lost waiter, next() threw at its caller, and the
     * waiter behind it was never restarted.
     */
    @Test
    void coQueueNextPassesALostWaiterToTheNextOne() {
        AioContext main = MainLoop.init();
        try (IoThreads io = new IoThreads("queue-lost", 1); CoroutineLogCapture log = new CoroutineLogCapture()) {
            CoQueue queue = new CoQueue();
            boolean[] lostRan = {false};
            boolean[] healthyRan = {false};
            Coroutine lost = Coroutine.create(() -> {
                queue.await();
                lostRan[0] = true;
            });
            io.runIn(0, () -> lost.enterIn(io.ctx(0))); // waits in the IOThread's context
            Coroutine.create(() -> {
                queue.await();
                healthyRan[0] = true;
            }).enter(); // waits behind it, in the main loop
            io.stopAndJoin(0);
            boolean[] restarted = {false};
            Coroutine.create(() -> restarted[0] = queue.next()).enter(); // the restarted one runs after it ends
            assertTrue(restarted[0]);
            assertFalse(lostRan[0]);
            assertTrue(healthyRan[0], "the waiter behind the lost one was not restarted");
            assertTrue(queue.isEmpty());
            assertTrue(reported(log, lost + " was restarted but cannot be woken"), "the lost waiter is reported");
        } finally {
            main.close();
        }
    }

    /**
     * {@link CoQueue#restartAll(java.util.concurrent.locks.Lock, AioContext)} enters a waiter whose own context is
     * closing in the fallback context, and waits for it to suspend first when the waiter's thread is slow between
     * releasing the lock and yielding (here: its unlock pauses). Before, the restart in that window entered a
     * coroutine still running on its own thread, the enter failed in the fallback context, and the waiter, once
     * suspended, was never resumed.
     */
    @Test
    void aRestartInTheFallbackContextWaitsForTheWaiterToSuspend() throws InterruptedException {
        try (IoThreads io = new IoThreads("restart-window", 2)) {
            CoQueue queue = new CoQueue();
            PausingLock lock = new PausingLock();
            AtomicBoolean closingWhenEntered = new AtomicBoolean();
            AtomicReference<AioContext> resumedIn = new AtomicReference<>();
            CountDownLatch ended = new CountDownLatch(1);
            AioContext home = io.ctx(0);
            Runnable waiter = () -> {
                lock.lock();
                lock.pauseNextUnlock();
                queue.await(lock);
                resumedIn.set(AioContext.current());
                lock.unlock();
                ended.countDown();
            };
            // The stop BH and the next one run in the loop's last iteration; the BH scheduled from there runs in the
            // last pass, after the context refuses wakes, and starts the waiter there.
            io.runIn(0, () -> {
                io.thread(0).stop();
                home.scheduleOneShot("schedules-the-waiter", () -> home.scheduleOneShot("starts-the-waiter", () -> {
                    closingWhenEntered.set(home.isClosing());
                    Coroutine.create(waiter).enter();
                }));
            });
            Thread restarter = new Thread(() -> {
                lock.lock();
                try {
                    queue.restartAll(lock, io.ctx(1)); // its own context refuses: it closes
                } finally {
                    lock.unlock();
                }
            }, "restarter");
            try {
                IoThreads.await(lock.paused, "the waiter's unlock");
                assertTrue(closingWhenEntered.get(), "the waiter did not start in its context's last pass");
                restarter.start();
                // Parked in awaitSuspended, or done: without the wait it entered the waiter at once and ended.
                Thread.State[] seen = new Thread.State[1];
                IoThreads.waitUntil(() -> {
                    seen[0] = restarter.getState();
                    return seen[0] == Thread.State.TIMED_WAITING || seen[0] == Thread.State.TERMINATED;
                }, "the restarter waiting or done");
                assertEquals(Thread.State.TIMED_WAITING, seen[0], "the restart did not wait for the waiter to suspend");
            } finally {
                lock.proceed.countDown();
            }
            IoThreads.await(ended, "the waiter's end in the fallback context");
            restarter.join();
            assertSame(io.ctx(1), resumedIn.get());
        }
    }

    /** A lock whose one armed unlock, once the lock is free, waits until the test lets it return. */
    private static final class PausingLock extends ReentrantLock {
        final CountDownLatch paused = new CountDownLatch(1);
        final CountDownLatch proceed = new CountDownLatch(1);
        private final AtomicBoolean armed = new AtomicBoolean();

        void pauseNextUnlock() {
            armed.set(true);
        }

        @Override
        public void unlock() {
            super.unlock();
            if (armed.compareAndSet(true, false)) {
                paused.countDown();
                IoThreads.await(proceed, "the test's go-ahead");
            }
        }
    }
}
