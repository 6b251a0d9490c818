package io.blockloop.coroutine;

import io.blockloop.aio.AioContext;
import io.blockloop.aio.IOThread;
import io.blockloop.aio.MainLoop;
import io.blockloop.aio.Timer;
import io.blockloop.aio.testing.IoThreads;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Coroutines and AioContexts: QEMU's test-aio.c coroutine cases (queue chaining, worker-thread co-enter) and the
 * aio_co_enter / aio_co_wake / aio_co_schedule / aio_co_reschedule_self / qemu_co_sleep_ns rules.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class CoroutineContextTest {

    /**
     * /aio/coroutine/queue-chaining: two coroutines of the main context enter each other 25 000 times each and
     * yield. Each enter from inside a coroutine is queued, not nested, so the stack stays flat.
     */
    @Test
    void queueChainingTwentyFiveThousandRoundTripsInAContext() {
        int rounds = 25_000;
        AioContext main = MainLoop.init();
        try {
            int[] counts = new int[2];
            boolean[] done = new boolean[2];
            int[] depth = {Integer.MAX_VALUE, 0};
            Coroutine[] cos = new Coroutine[2];
            for (int i = 0; i < 2; i++) {
                int me = i;
                cos[i] = Coroutine.create(() -> {
                    for (int r = 0; r < rounds; r++) {
                        counts[me]++;
                        int d = StackWalker.getInstance().walk(s -> (int) s.count());
                        depth[0] = Math.min(depth[0], d);
                        depth[1] = Math.max(depth[1], d);
                        if (!done[1 - me]) {
                            cos[1 - me].enterIn(main);
                        }
                        Coroutine.yield();
                    }
                    done[me] = true;
                    if (!done[1 - me]) {
                        cos[1 - me].enterIn(main);
                    }
                });
            }
            cos[0].enterIn(main); // plain code of the home thread: enters at once, and runs the whole chain
            assertEquals(rounds, counts[0]);
            assertEquals(rounds, counts[1]);
            assertTrue(done[0] && done[1], "both coroutines terminated");
            assertEquals(depth[0], depth[1], "every round ran at the same stack depth");
            assertFalse(main.poll(false), "nothing was scheduled through the loop");
        } finally {
            main.close();
        }
    }

    /**
     * /aio/coroutine/worker-thread-co-enter: a thread without a context enters a coroutine into the main
     * context; it is scheduled, runs on the main thread at the next blocking poll, and then nothing is left.
     */
    @Test
    void workerThreadCoEnterSchedulesIntoTheMainContext() throws Exception {
        AioContext main = MainLoop.init();
        try {
            AtomicReference<Thread> ranOn = new AtomicReference<>();
            AtomicReference<AioContext> ranIn = new AtomicReference<>();
            Coroutine co = Coroutine.create(() -> {
                ranOn.set(Thread.currentThread());
                ranIn.set(AioContext.current());
            });
            Thread worker = new Thread(() -> co.enterIn(main), "worker");
            worker.start();
            worker.join(IoThreads.BOUND.toMillis());
            assertFalse(worker.isAlive(), "the worker returned at once");
            assertNull(ranOn.get(), "the coroutine did not run on the worker");

            Timer guard = main.newTimer("test-guard", () -> { }); // bounds the blocking poll if nothing was scheduled
            guard.modAfterNs(IoThreads.BOUND.toNanos());
            assertTrue(main.poll(true));
            guard.delete();
            assertSame(Thread.currentThread(), ranOn.get());
            assertSame(main, ranIn.get());
            assertFalse(main.poll(false));
        } finally {
            main.close();
        }
    }

    /** The same from a plain thread into an IOThread's context. */
    @Test
    void aNonLoopThreadEntersACoroutineIntoAnIOThread() throws Exception {
        try (IoThreads io = new IoThreads("co-enter", 1)) {
            AtomicReference<Thread> ranOn = new AtomicReference<>();
            AtomicReference<AioContext> ranIn = new AtomicReference<>();
            CountDownLatch ran = new CountDownLatch(1);
            Coroutine co = Coroutine.create(() -> {
                ranOn.set(Thread.currentThread());
                ranIn.set(AioContext.current());
                ran.countDown();
            });
            assertNull(AioContext.current(), "the test thread runs no context");
            co.enterIn(io.ctx(0));
            IoThreads.await(ran, "the coroutine in the IOThread");
            assertSame(io.thread(0).thread(), ranOn.get());
            assertSame(io.ctx(0), ranIn.get());
        }
    }

    /** wake() from another thread restarts the coroutine in the context where it last ran. */
    @Test
    void wakeFromAnotherThreadRestartsItWhereItLastRan() throws Exception {
        try (IoThreads io = new IoThreads("wake", 1)) {
            List<String> where = Collections.synchronizedList(new ArrayList<>());
            CountDownLatch yielded = new CountDownLatch(1);
            CountDownLatch finished = new CountDownLatch(1);
            Coroutine[] co = new Coroutine[1];
            io.runIn(0, () -> {
                co[0] = Coroutine.create(() -> {
                    where.add(Thread.currentThread().getName());
                    yielded.countDown();
                    Coroutine.yield();
                    where.add(Thread.currentThread().getName());
                    finished.countDown();
                });
                co[0].enter();
            });
            IoThreads.await(yielded, "the first run");
            assertSame(io.ctx(0), co[0].context());
            co[0].wake(); // the test thread: not the coroutine's context, so it is scheduled there
            IoThreads.await(finished, "the restart");
            String name = io.thread(0).thread().getName();
            assertEquals(List.of(name, name), where);
        }
    }

    /** Coroutines scheduled into one context are entered in the order they were scheduled. */
    @Test
    void scheduledCoroutinesRunInFifoOrder() throws Exception {
        try (IoThreads io = new IoThreads("fifo", 1)) {
            int n = 200;
            List<Integer> order = Collections.synchronizedList(new ArrayList<>());
            CountDownLatch all = new CountDownLatch(n);
            for (int i = 0; i < n; i++) {
                int k = i;
                Coroutine.create(() -> {
                    order.add(k);
                    all.countDown();
                }).schedule(io.ctx(0));
            }
            IoThreads.await(all, "all scheduled coroutines");
            List<Integer> expected = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                expected.add(i);
            }
            assertEquals(expected, order);
            assertTrue(io.ctx(0).scheduledCoroutines().isEmpty());
        }
    }

    /** Scheduling a coroutine that is already scheduled is an error that says where it was scheduled. */
    @Test
    void schedulingTwiceSaysWhereItWasScheduled() throws Exception {
        try (IoThreads io = new IoThreads("twice", 2)) {
            CountDownLatch release = new CountDownLatch(1);
            CountDownLatch blocked = new CountDownLatch(1);
            // Keep context 0 busy so the scheduled coroutine stays on its list while we try again.
            io.ctx(0).scheduleOneShot("test-block", () -> {
                blocked.countDown();
                IoThreads.await(release, "the test's release");
            });
            IoThreads.await(blocked, "context 0 blocked");
            CountDownLatch ran = new CountDownLatch(1);
            Coroutine co = Coroutine.create(ran::countDown);
            co.schedule(io.ctx(0));
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> co.schedule(io.ctx(1)));
            assertTrue(e.getMessage().contains("already scheduled in context '" + io.ctx(0).name() + "' by Coroutine.schedule"),
                    e.getMessage());
            IllegalStateException enter = assertThrows(IllegalStateException.class, co::enter);
            assertTrue(enter.getMessage().contains("scheduled in context '" + io.ctx(0).name() + "'"), enter.getMessage());
            release.countDown();
            IoThreads.await(ran, "the coroutine, once");
        }
    }

    /** rescheduleSelf moves a running coroutine to another IOThread and it continues there. */
    @Test
    void rescheduleSelfMovesTheCoroutineToAnotherContext() throws Exception {
        try (IoThreads io = new IoThreads("move", 2)) {
            List<String> threads = Collections.synchronizedList(new ArrayList<>());
            List<AioContext> contexts = Collections.synchronizedList(new ArrayList<>());
            CountDownLatch finished = new CountDownLatch(1);
            Coroutine co = Coroutine.create(() -> {
                threads.add(Thread.currentThread().getName());
                contexts.add(Coroutine.self().context());
                Coroutine.rescheduleSelf(io.ctx(1));
                threads.add(Thread.currentThread().getName());
                contexts.add(Coroutine.self().context());
                Coroutine.rescheduleSelf(io.ctx(1)); // already there: no-op
                Coroutine.rescheduleSelf(io.ctx(0));
                threads.add(Thread.currentThread().getName());
                finished.countDown();
            });
            co.enterIn(io.ctx(0));
            IoThreads.await(finished, "the moves");
            assertEquals(List.of(io.thread(0).thread().getName(), io.thread(1).thread().getName(),
                    io.thread(0).thread().getName()), threads);
            assertEquals(List.of(io.ctx(0), io.ctx(1)), contexts);
        }
    }

    /**
     * rescheduleSelf into the context of an IOThread that was closed (BlockBackend's co* methods do this for a
     * backend whose IOThread was closed) throws in the caller's context. Before, the hand-over BH's push was refused
     * in the old context, which only logged it, and the coroutine was in neither context: it hung for good.
     */
    @Test
    void rescheduleSelfIntoAClosedIOThreadThrowsAndStaysWhereItRuns() throws Exception {
        try (IoThreads io = new IoThreads("move-from", 1)) {
            IOThread closed = new IOThread("move-to-closed").start();
            AioContext target = closed.context();
            closed.close();
            AtomicReference<Throwable> thrown = new AtomicReference<>();
            AtomicReference<AioContext> after = new AtomicReference<>();
            CountDownLatch finished = new CountDownLatch(1);
            Coroutine.create(() -> {
                try {
                    Coroutine.rescheduleSelf(target);
                } catch (Throwable t) {
                    thrown.set(t);
                }
                after.set(Coroutine.self().context());
                Coroutine.rescheduleSelf(io.ctx(0)); // already there: not left marked as scheduled elsewhere
                finished.countDown();
            }).schedule(io.ctx(0));
            IoThreads.await(finished, "the coroutine, back from the refused move");
            Throwable t = thrown.get();
            assertTrue(t instanceof IllegalStateException && t.getMessage().contains("'move-to-closed': it is closing"),
                    String.valueOf(t));
            assertSame(io.ctx(0), after.get());
        }
    }

    /**
     * The race: the target passes rescheduleSelf's "is it closing?" check and closes before the hand-over BH runs.
     * Its sealed list refuses the push, and the BH resumes the coroutine in its own context, where rescheduleSelf
     * throws; nothing is left marked or listed. Both contexts belong to the test thread, so the order is fixed.
     */
    @Test
    void rescheduleSelfIntoAContextThatClosesBeforeTheHandOverThrowsInTheOldOne() {
        AioContext from = AioContext.create("hand-over-from");
        AioContext to = AioContext.create("hand-over-to");
        List<String> seen = new ArrayList<>();
        Coroutine co = Coroutine.create(() -> {
            try {
                Coroutine.rescheduleSelf(to);
                seen.add("moved");
            } catch (IllegalStateException e) {
                seen.add(e.getMessage());
            }
            seen.add("now in " + Coroutine.self().context().name());
        });
        co.enterIn(from); // runs until rescheduleSelf yields, marked and with the hand-over BH scheduled in `from`
        assertEquals(List.of(), seen);
        to.close(); // seals its scheduled list: the hand-over's push is refused
        assertTrue(from.poll(false));
        assertEquals(2, seen.size(), seen.toString());
        assertTrue(seen.get(0).contains("cannot schedule") && seen.get(0).contains("'hand-over-to': it is closing"),
                seen.get(0));
        assertEquals("now in hand-over-from", seen.get(1));
        from.close(); // nothing left scheduled
    }

    /**
     * sleepNs suspends for at least the given time, in the coroutine's own context; a stray wake is refused. The
     * enter and the stray wake are one BH: the enter returns at the sleep's yield, and no timer runs inside a BH,
     * so the wake meets the sleep whatever the scheduling (a stray-wake BH of its own ran in the next iteration,
     * after the timers of this one: a stall as long as the delay let the sleep end first).
     */
    @Test
    void sleepNsResumesInTheSameContextAfterTheDelay() throws Exception {
        try (IoThreads io = new IoThreads("sleep", 1)) {
            long delay = TimeUnit.MILLISECONDS.toNanos(20);
            long[] slept = {0};
            List<String> threads = Collections.synchronizedList(new ArrayList<>());
            AtomicReference<Throwable> stray = new AtomicReference<>();
            CountDownLatch finished = new CountDownLatch(1);
            Coroutine co = Coroutine.create(() -> {
                threads.add(Thread.currentThread().getName());
                long t0 = System.nanoTime();
                Coroutine.sleepNs(delay);
                slept[0] = System.nanoTime() - t0;
                threads.add(Thread.currentThread().getName());
                finished.countDown();
            });
            io.runIn(0, () -> {
                co.enterIn(io.ctx(0)); // plain code of the home thread: runs now, up to the sleep's yield
                try {
                    co.wake();
                } catch (Throwable t) {
                    stray.set(t);
                }
            });
            IoThreads.await(finished, "the end of the sleep");
            assertTrue(stray.get() instanceof IllegalStateException,
                    "a wake during the sleep is refused: " + stray.get());
            assertTrue(stray.get().getMessage().contains("by Coroutine.sleepNs"), stray.get().getMessage());
            assertTrue(slept[0] >= delay, "slept " + slept[0] + " ns, asked for " + delay);
            String name = io.thread(0).thread().getName();
            assertEquals(List.of(name, name), threads);
        }
    }

    /**
     * A sleep its context refuses (closed) leaves the coroutine unmarked: it was marked scheduled before the timer
     * was made, and every later wake and enter was refused ("scheduled ... by Coroutine.sleepNs").
     */
    @Test
    void aRefusedSleepLeavesTheCoroutineFreeToBeWoken() {
        AioContext ctx = AioContext.create("sleepless");
        List<String> log = new ArrayList<>();
        Coroutine co = Coroutine.create(() -> {
            Coroutine.yield();
            String refused = assertThrows(IllegalStateException.class, () -> Coroutine.sleepNs(1000)).getMessage();
            log.add(refused.contains("'sleepless' is closed") ? "sleep refused" : refused);
            Coroutine.yield();
            log.add("woken again");
        });
        co.enterIn(ctx);
        ctx.close();
        co.wake(); // entered in its closed context, on its home thread: the sleep is refused
        co.wake();
        assertEquals(List.of("sleep refused", "woken again"), log);
    }

    /** A context closed while coroutines are still scheduled in it reports them. */
    @Test
    void closingAContextWithScheduledCoroutinesLeftIsAnError() {
        AioContext ctx = AioContext.create("leftovers");
        boolean[] ran = {false};
        Coroutine co = Coroutine.create(() -> ran[0] = true);
        co.schedule(ctx);
        IllegalStateException e = assertThrows(IllegalStateException.class, ctx::close);
        assertTrue(e.getMessage().contains("scheduled coroutines left: " + co), e.getMessage());
        assertFalse(ran[0]);
    }

    /** A context without leftovers closes cleanly: the schedule BH is deleted with it. */
    @Test
    void aContextWhoseScheduledCoroutinesRanClosesCleanly() {
        AioContext ctx = AioContext.create("clean");
        boolean[] ran = {false};
        Coroutine.create(() -> ran[0] = true).schedule(ctx);
        assertTrue(ctx.poll(false));
        assertTrue(ran[0]);
        ctx.close();
    }

    /** enter() records the calling thread's context; a coroutine entered outside any context has none. */
    @Test
    void enterRecordsTheCallersContext() {
        Coroutine plain = Coroutine.create(Coroutine::yield);
        plain.enter();
        assertNull(plain.context());
        plain.enter();

        AioContext main = MainLoop.init();
        try {
            Coroutine inMain = Coroutine.create(Coroutine::yield);
            inMain.enter();
            assertSame(main, inMain.context());
            inMain.wake(); // home thread, plain code: entered at once
            assertFalse(main.poll(false));
        } finally {
            main.close();
        }
    }
}
