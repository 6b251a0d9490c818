package io.blockloop.aio;

import io.blockloop.ffm.libc.EventFd;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** QEMU test-aio.c's /aio/timer/schedule, and timer ordering and wake-ups, on every monitor. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class TimerTest {

    @ParameterizedTest
    @EnumSource(TestMonitor.class)
    void aTimerFiresOnlyAfterItsDeadlineAndMayReArmItself(TestMonitor monitor) {
        try (AioContext ctx = monitor.newContext("timer-schedule"); EventFd dummy = EventFd.create()) {
            // A registered fd, as in QEMU's test, so the wait really goes to the monitor.
            ctx.setEventNotifier(dummy, dummy::drain, null, null);
            int[] n = {0};
            Timer[] timer = new Timer[1];
            timer[0] = ctx.newTimer("rearming", () -> {
                if (++n[0] < 2) {
                    timer[0].modAfterNs(TimeUnit.MILLISECONDS.toNanos(20));
                }
            });
            timer[0].modAfterNs(TimeUnit.SECONDS.toNanos(60));
            Loops.drain(ctx);
            assertFalse(ctx.poll(false));
            assertEquals(0, n[0], "fired before its deadline");
            assertTrue(timer[0].isPending());

            timer[0].modNs(ctx.nowNs()); // due now: earlier deadline, same timer
            assertTrue(ctx.poll(false));
            assertEquals(1, n[0]);
            assertTrue(timer[0].isPending(), "re-armed from its callback");
            // A blocking poll sleeps until the re-armed deadline and runs it.
            Loops.pollCount(ctx, () -> n[0] == 2, 100);
            assertFalse(timer[0].isPending());
            assertFalse(ctx.poll(false));
            assertEquals(2, n[0]);
            timer[0].delete();
            assertThrows(IllegalStateException.class, () -> timer[0].modAfterNs(1));
            ctx.removeEventNotifier(dummy);
        }
    }

    @ParameterizedTest
    @EnumSource(TestMonitor.class)
    void timersRunInDeadlineOrderAndCancelledOnesDoNot(TestMonitor monitor) {
        try (AioContext ctx = monitor.newContext("timer-order")) {
            List<String> log = new ArrayList<>();
            long now = ctx.nowNs();
            Timer c = ctx.newTimer("c", () -> log.add("c"));
            Timer a = ctx.newTimer("a", () -> log.add("a"));
            Timer b = ctx.newTimer("b", () -> log.add("b"));
            Timer cancelled = ctx.newTimer("x", () -> log.add("x"));
            c.modNs(now - 1);
            a.modNs(now - 3);
            b.modNs(now - 2);
            cancelled.modNs(now - 4);
            cancelled.cancel();
            assertTrue(ctx.poll(false));
            assertEquals(List.of("a", "b", "c"), log);
            assertEquals(-1, a.deadlineNs());
        }
    }

    @ParameterizedTest
    @EnumSource(TestMonitor.class)
    void armingAnEarlierDeadlineFromAnotherThreadWakesABlockedLoop(TestMonitor monitor) throws Exception {
        CountDownLatch fired = new CountDownLatch(1);
        try (IOThread io = new IOThread("timer-wake", monitor.factory, PollParams.OFF).start()) {
            AioContext ctx = io.context();
            Timer far = ctx.newTimer("far", () -> {
            });
            Timer near = ctx.newTimer("near", fired::countDown);
            far.modAfterNs(TimeUnit.HOURS.toNanos(1));
            // Let the loop go to sleep on the one-hour timeout.
            long deadline = System.nanoTime() + Loops.BOUND_NS;
            while (!ctx.loopMayBlock()) {
                assertTrue(System.nanoTime() < deadline, "loop never blocked");
                Thread.onSpinWait();
            }
            near.modAfterNs(0);
            Loops.await(fired, "the earlier timer");
            far.delete();
            near.delete();
        }
    }
}
