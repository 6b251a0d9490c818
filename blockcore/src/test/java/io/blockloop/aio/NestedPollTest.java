package io.blockloop.aio;

import io.blockloop.coroutine.Coroutine;
import io.blockloop.ffm.libc.EventFd;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** QEMU's test-nested-aio-poll, and the BH slice rule for nested loops, on every monitor. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class NestedPollTest {

    @ParameterizedTest
    @EnumSource(TestMonitor.class)
    void aPollReadyCallbackRunningANestedLoopIsNotReEntered(TestMonitor monitor) {
        try (AioContext ctx = monitor.newContext("nested-aio-poll"); EventFd polled = EventFd.create();
             EventFd dummy = EventFd.create()) {
            ctx.setPollParams(1_000_000, 2, 2);
            boolean[] inside = {false};
            boolean[] reentered = {false};
            int[] readyCalls = {0};
            int[] nestedProgress = {0};
            // Its poll check always finds work; its ready callback runs a nested blocking loop.
            ctx.setEventNotifier(polled, polled::drain, () -> true, () -> {
                if (inside[0]) {
                    reentered[0] = true;
                    return;
                }
                inside[0] = true;
                readyCalls[0]++;
                if (ctx.poll(true)) {
                    nestedProgress[0]++;
                }
                inside[0] = false;
            });
            // Never has work by polling; its fd is what ends each nested wait.
            ctx.setEventNotifier(dummy, dummy::drain, () -> false, () -> {
            });
            Timer kick = ctx.newTimer("kick-dummy", dummy::signal);
            Loops.drain(ctx);

            // The first readiness comes from the fd: that makes the handler join busy polling.
            polled.signal();
            assertTrue(ctx.poll(true));
            for (int i = 0; readyCalls[0] < 3; i++) {
                assertTrue(i < 100, "the poll-ready callback never ran three times");
                kick.modAfterNs(TimeUnit.MICROSECONDS.toNanos(200));
                // Usually progress; io_uring may also return early for a stale TIMEOUT completion.
                ctx.poll(true);
            }
            assertFalse(reentered[0], "io_poll_ready was re-entered by the nested loop");
            // Under CPU load a nested wait can end on the kick timer's stale wake-up before the dummy fd is
            // dispatched (seen once while other builds ran), so require progress, not progress on every pass.
            assertTrue(nestedProgress[0] >= 1, "a nested loop made progress");
            kick.delete();
            ctx.removeEventNotifier(polled);
            ctx.removeEventNotifier(dummy);
        }
    }

    @ParameterizedTest
    @EnumSource(TestMonitor.class)
    void aNestedLoopRunsEveryPendingBhExactlyOnce(TestMonitor monitor) {
        try (AioContext ctx = monitor.newContext("nested-bh")) {
            Loops.drain(ctx);
            List<String> log = new ArrayList<>();
            ctx.scheduleOneShot("outer", () -> {
                log.add("outer");
                ctx.scheduleOneShot("scheduled-in-outer", () -> log.add("scheduled-in-outer"));
                // The nested pass drains the rest of the outer slice first, then its own slice.
                assertTrue(ctx.poll(false));
                log.add("outer-done");
            });
            ctx.scheduleOneShot("b", () -> log.add("b"));
            ctx.scheduleOneShot("c", () -> log.add("c"));
            assertTrue(ctx.poll(false));
            assertEquals(List.of("outer", "b", "c", "scheduled-in-outer", "outer-done"), log);
            assertFalse(ctx.poll(false), "a BH ran twice or was left behind");
            assertEquals(5, log.size());
        }
    }

    @ParameterizedTest
    @EnumSource(TestMonitor.class)
    void aBhScheduledInsideANestedPassRunsInALaterPass(TestMonitor monitor) {
        try (AioContext ctx = monitor.newContext("nested-bh-later")) {
            Loops.drain(ctx);
            List<String> log = new ArrayList<>();
            BottomHalf again = ctx.newBottomHalf("again", () -> log.add("again"));
            ctx.scheduleOneShot("outer", () -> {
                ctx.scheduleOneShot("inner", () -> {
                    log.add("inner");
                    again.schedule();
                });
                ctx.poll(false); // runs "inner"; "again" was scheduled during that pass
                log.add("after-nested");
            });
            assertTrue(ctx.poll(false));
            assertEquals(List.of("inner", "after-nested"), log);
            assertTrue(ctx.poll(false));
            assertEquals(List.of("inner", "after-nested", "again"), log);
            again.delete();
        }
    }

    @ParameterizedTest
    @EnumSource(TestMonitor.class)
    void readinessReportedToANestedLoopIsNotDispatchedAgainByTheOuterOne(TestMonitor monitor) {
        try (AioContext ctx = monitor.newContext("nested-ready")) {
            EventFd first = EventFd.create();
            EventFd second = EventFd.create();
            int[] secondReads = {0};
            boolean[] nestedDone = {false};
            // Whichever of the two is dispatched first runs a nested loop that must handle the other one.
            Runnable nested = () -> {
                if (!nestedDone[0]) {
                    nestedDone[0] = true;
                    Loops.pollUntil(ctx, () -> secondReads[0] > 0);
                }
            };
            ctx.setEventNotifier(first, () -> {
                first.drain();
                nested.run();
            }, null, null);
            ctx.setEventNotifier(second, () -> {
                second.drain();
                secondReads[0]++;
                nested.run();
            }, null, null);
            Loops.drain(ctx);
            first.signal();
            second.signal();
            Loops.pollUntil(ctx, () -> nestedDone[0]);
            Loops.drain(ctx);
            assertEquals(1, secondReads[0], "the second fd was dispatched by both loops");
            ctx.removeEventNotifier(first);
            ctx.removeEventNotifier(second);
            first.close();
            second.close();
        }
    }

    /**
     * AioWait refuses a coroutine: its nested poll cannot enter another coroutine of its context (the wake is
     * queued behind the waiting one), so a wait for a request's completion hung for good.
     */
    @ParameterizedTest
    @EnumSource(TestMonitor.class)
    void aioWaitRefusesACoroutine(TestMonitor monitor) {
        try (AioContext ctx = monitor.newContext("wait-in-coroutine")) {
            AtomicReference<Throwable> refused = new AtomicReference<>();
            Coroutine.create(() -> refused.set(assertThrows(IllegalStateException.class,
                    () -> AioWait.waitWhile(ctx, () -> true, 1_000_000)))).enter(); // bounded: it used to hang
            assertTrue(refused.get().getMessage().startsWith("AioWait.waitWhile in Coroutine#"),
                    refused.get().getMessage());
            Loops.drain(ctx);
        }
    }

    /** A refused runInContext (from a thread that may not wait) does not run the work anyway. */
    @ParameterizedTest
    @EnumSource(TestMonitor.class)
    void aRefusedRunInContextDoesNotRunTheWork(TestMonitor monitor) throws Exception {
        try (AioContext ctx = monitor.newContext("run-in-context")) {
            boolean[] ran = {false};
            AtomicReference<Throwable> refused = new AtomicReference<>();
            Thread other = Thread.ofPlatform().start(() -> refused.set(assertThrows(IllegalStateException.class,
                    () -> AioWait.runInContext(ctx, () -> ran[0] = true))));
            other.join();
            Loops.drain(ctx);
            assertFalse(ran[0], "the work ran although the call was refused");
            assertTrue(refused.get().getMessage().startsWith("AioWait: only the main thread may wait"),
                    refused.get().getMessage());
        }
    }
}
