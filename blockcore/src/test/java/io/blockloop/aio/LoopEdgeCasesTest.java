package io.blockloop.aio;

import io.blockloop.fdmon.FdMonitor;
import io.blockloop.fdmon.FdMonitorKind;
import io.blockloop.fdmon.IoUringFdMonitor;
import io.blockloop.ffm.libc.EventFd;
import io.blockloop.coroutine.Coroutine;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Edge cases of the loop that an audit of the event loop and coroutines found broken (session 26), each test failing
 * without its fix: an IOThread closed while it starts; a nested poll inside a running poll-ready callback; a
 * coroutine that sleeps in the last pass; an idle BH scheduled by a poll-end callback; a throwable escaping a BH
 * pass.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class LoopEdgeCasesTest {

    /**
     * IOThread.close() racing IOThread.start() on another thread: close() sees no context yet, so it does not
     * stop the loop, then joins the thread, which runs its loop for good. close() never returns.
     */
    @Test
    void closeRacingStartDoesNotHang() throws Exception {
        CountDownLatch factoryEntered = new CountDownLatch(1);
        CountDownLatch releaseFactory = new CountDownLatch(1);
        IOThread io = new IOThread("racing", () -> {
            factoryEntered.countDown();
            try {
                releaseFactory.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return FdMonitor.open(FdMonitorKind.AUTO);
        }, PollParams.OFF);
        AtomicReference<Throwable> startFailure = new AtomicReference<>();
        Thread starter = Thread.ofPlatform().name("starter").start(() -> {
            try {
                io.start();
            } catch (Throwable t) {
                startFailure.set(t);
            }
        });
        Loops.await(factoryEntered, "the IOThread's monitor factory");
        CountDownLatch closed = new CountDownLatch(1);
        AtomicReference<Throwable> closeFailure = new AtomicReference<>();
        Thread closer = Thread.ofPlatform().name("closer").start(() -> {
            try {
                io.close();
            } catch (Throwable t) {
                closeFailure.set(t);
            } finally {
                closed.countDown();
            }
        });
        // close() blocks only in thread.join(): once the closer waits, it has passed its "is there a context?" look.
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (closer.getState() != Thread.State.WAITING && closed.getCount() != 0) {
            if (System.nanoTime() > deadline) {
                fail("the closer neither waited nor returned");
            }
            Thread.onSpinWait();
        }
        releaseFactory.countDown();
        starter.join(TimeUnit.SECONDS.toMillis(10));
        boolean closeReturned = closed.await(10, TimeUnit.SECONDS);
        if (!closeReturned) {
            io.stop(); // let the thread end, so the closer and the test end
            closed.await(10, TimeUnit.SECONDS);
        }
        assertTrue(closeReturned, "IOThread.close() racing start() never returned (the IOThread ran on, nobody"
                + " stopped it); start failure: " + startFailure.get() + ", close failure: " + closeFailure.get());
    }

    /**
     * The class contract: a nested poll "never re-enters a handler whose poll-ready callback is running". The
     * handler is taken out of the polled set while its poll-ready callback runs, but an fd event dispatched by the
     * nested poll puts it back, and the nested poll's busy polling then runs the poll-ready callback inside itself.
     */
    @Test
    void aNestedPollDoesNotReenterARunningPollReadyCallback() {
        try (AioContext ctx = AioContext.create("reenter", IoUringFdMonitor.open()); EventFd e = EventFd.create()) {
            ctx.setPollParams(1_000_000_000L, 0, 0);
            boolean[] work = {false};
            int[] reads = {0};
            int[] depth = {0};
            int[] maxDepth = {0};
            int[] readies = {0};
            Timer bound = ctx.newTimer("bound", () -> { });
            ctx.setEventNotifier(e, () -> {
                e.drain();
                reads[0]++;
            }, () -> work[0], () -> {
                readies[0]++;
                depth[0]++;
                maxDepth[0] = Math.max(maxDepth[0], depth[0]);
                try {
                    if (depth[0] == 1) {
                        // Work not yet cleared (as the QEMU comment about ->io_poll_ready() calling aio_poll() says),
                        // and the device also signals its notifier.
                        e.signal();
                        for (int i = 0; i < 4; i++) {
                            bound.modAfterNs(TimeUnit.SECONDS.toNanos(2));
                            ctx.poll(true);
                        }
                    }
                    work[0] = false;
                } finally {
                    depth[0]--;
                }
            });
            Loops.drain(ctx);
            e.signal();
            Loops.pollUntil(ctx, () -> reads[0] == 1); // joins the polled set, window opens
            int readsBefore = reads[0];
            work[0] = true;
            Loops.pollUntil(ctx, () -> !work[0]);
            bound.delete();
            ctx.removeEventNotifier(e);
            Loops.drain(ctx);
            assertTrue(reads[0] > readsBefore, "the nested poll did not dispatch the fd event");
            assertEquals(1, maxDepth[0], "the poll-ready callback ran inside itself (" + readies[0] + " runs)");
        }
    }

    /**
     * README (session 22): "A timer armed while the context runs its last pass is refused (nothing would run it)".
     * The last pass first enters the scheduled coroutines, and only then seals the BH queue, which is what
     * Timer.modNs looks at (isClosing()). A coroutine entered there that sleeps gets its timer accepted; the
     * timer never runs, and sleepNs neither returns nor throws: the coroutine is lost without a word.
     */
    @Test
    void aCoroutineSleepingInTheLastPassIsRefusedNotLost() {
        AioContext ctx = TestMonitor.POLL.newContext("sleep-in-last-pass");
        List<String> seen = new ArrayList<>();
        Coroutine.create(() -> {
            try {
                Coroutine.sleepNs(1_000);
                seen.add("woke");
            } catch (IllegalStateException e) {
                seen.add("refused: " + e.getMessage());
            }
        }).schedule(ctx);
        ctx.runLastBottomHalves();
        ctx.close(); // reports nothing
        assertEquals(1, seen.size(), "sleepNs in the last pass neither returned nor threw: " + seen);
    }

    /** The same through an IOThread: a coroutine scheduled in the pass that stops the loop. */
    @Test
    void aCoroutineScheduledAsTheIOThreadStopsAndThenSleepingIsNotLost() throws Exception {
        IOThread io = new IOThread("sleep-at-stop", FdMonitorKind.POLL, PollParams.OFF).start();
        AioContext ctx = io.context();
        List<String> seen = Collections.synchronizedList(new ArrayList<>());
        Coroutine co = Coroutine.create(() -> {
            seen.add("entered");
            try {
                Coroutine.sleepNs(1_000);
                seen.add("woke");
            } catch (IllegalStateException e) {
                seen.add("refused: " + e.getMessage());
            }
        });
        CountDownLatch stopped = new CountDownLatch(1);
        ctx.scheduleOneShot("stop-then-schedule", () -> {
            io.stop(); // "iothread-stop" runs in the next pass ...
            ctx.scheduleOneShot("after-stop", () -> co.schedule(ctx)); // ... and this right after it
            stopped.countDown();
        });
        Loops.await(stopped, "the stop BH"); // so that close()'s own stop() finds the stop requested already
        io.close(); // no failure reported
        assertEquals("entered", seen.getFirst(), seen.toString());
        assertEquals(2, seen.size(), "the coroutine entered by the last pass went to sleep and was lost: " + seen);
    }

    /**
     * An idle BH scheduled by the home thread does not notify (session 22: "the 10 ms idle timeout runs it"). But the
     * timeout is computed before busy polling, whose poll-end callbacks run on the home thread right before the wait:
     * an idle BH they schedule does not shorten that wait, and runs only when something else ends it (here a 1 s
     * timer; with no timer, never).
     */
    @Test
    void anIdleBhScheduledByAPollEndCallbackRunsWithinItsIdleTimeout() {
        try (AioContext ctx = AioContext.create("idle-from-poll-end", IoUringFdMonitor.open());
             EventFd e = EventFd.create()) {
            ctx.setPollParams(1_000_000_000L, 0, 0);
            List<String> order = new ArrayList<>();
            BottomHalf idle = ctx.newBottomHalf("idle", () -> order.add("idle BH"));
            boolean[] scheduleOnEnd = {false};
            int[] reads = {0};
            ctx.setEventNotifier(e, () -> {
                e.drain();
                reads[0]++;
            }, () -> false, () -> { });
            ctx.setEventNotifierPoll(e, () -> { }, () -> {
                if (scheduleOnEnd[0]) {
                    scheduleOnEnd[0] = false;
                    idle.scheduleIdle();
                }
            });
            Loops.drain(ctx);
            e.signal();
            Loops.pollUntil(ctx, () -> reads[0] == 1); // joins busy polling with a window
            Loops.drain(ctx);
            Timer bound = ctx.newTimer("bound", () -> order.add("10 s timer"));
            bound.modAfterNs(TimeUnit.SECONDS.toNanos(10)); // ends the test if the idle BH is not run
            scheduleOnEnd[0] = true;
            long t0 = System.nanoTime();
            while (order.isEmpty()) {
                ctx.poll(true);
            }
            long tookMs = (System.nanoTime() - t0) / 1_000_000;
            bound.delete();
            idle.delete();
            ctx.removeEventNotifier(e);
            Loops.drain(ctx);
            assertEquals(List.of("idle BH"), order, "the idle BH waited " + tookMs + " ms, for the timer");
        }
    }

    /**
     * A failure listener that throws an Error (an AssertionError from a test's fail(), say) is not caught by
     * reportFailure (it catches RuntimeException only), so it escapes poll() from the middle of a BH pass. The pass's
     * slice stays in the slice list; the next pass reuses the same slice object, overwrites its unfinished rest and
     * links it twice. The BH that was behind the failing one keeps PENDING set and is never queued again: every later
     * schedule() is accepted and does nothing.
     */
    @Test
    void aBhBehindAFailureWhoseReportEscapedIsNotWedgedForGood() {
        try (AioContext ctx = TestMonitor.POLL.newContext("wedged")) {
            int[] runs = {0};
            BottomHalf failing = ctx.newBottomHalf("failing", () -> {
                throw new IllegalStateException("boom");
            });
            BottomHalf behind = ctx.newBottomHalf("behind", () -> runs[0]++);
            boolean[] listenerThrows = {true};
            ctx.setCallbackFailureListener(f -> {
                if (listenerThrows[0]) {
                    listenerThrows[0] = false;
                    throw new AssertionError("listener: " + f);
                }
            });
            failing.schedule();
            behind.schedule();
            try {
                ctx.poll(false);
            } catch (AssertionError expected) {
                // escaped from the middle of the pass
            }
            for (int i = 0; i < 5; i++) {
                behind.schedule();
                ctx.poll(false);
            }
            boolean stillScheduled = behind.isScheduled();
            failing.delete();
            behind.delete();
            Loops.drain(ctx);
            assertTrue(runs[0] >= 1, "the BH behind the failure never ran again although scheduled 6 times"
                    + " (isScheduled=" + stillScheduled + ")");
        }
    }
}
