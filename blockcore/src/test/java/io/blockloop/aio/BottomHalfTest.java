package io.blockloop.aio;

import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** QEMU test-aio.c's /aio/bh/* scenarios, and the BH queue rules, on every monitor. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class BottomHalfTest {

    /** A BH that reschedules itself until it ran {@code max} times, optionally deleting itself then. */
    private static final class Counted {
        final int max;
        final boolean deleteAtMax;
        int n;
        BottomHalf bh;

        Counted(AioContext ctx, String name, int max, boolean deleteAtMax) {
            this.max = max;
            this.deleteAtMax = deleteAtMax;
            this.bh = ctx.newBottomHalf(name, this::run);
        }

        private void run() {
            n++;
            if (n < max) {
                bh.schedule();
            } else if (deleteAtMax) {
                bh.delete();
                bh = null;
            }
        }
    }

    @ParameterizedTest
    @EnumSource(TestMonitor.class)
    void aScheduledBhRunsOnlyInPollAndOnlyOnce(TestMonitor monitor) {
        try (AioContext ctx = monitor.newContext("bh-schedule")) {
            Loops.drain(ctx);
            Counted data = new Counted(ctx, "schedule", 0, false);
            data.bh.schedule();
            assertEquals(0, data.n);
            assertTrue(ctx.poll(true));
            assertEquals(1, data.n);
            assertFalse(ctx.poll(false));
            assertEquals(1, data.n);
            data.bh.delete();
        }
    }

    @ParameterizedTest
    @EnumSource(TestMonitor.class)
    void aSelfReschedulingBhRunsOncePerPoll(TestMonitor monitor) {
        try (AioContext ctx = monitor.newContext("bh-schedule10")) {
            Loops.drain(ctx);
            Counted data = new Counted(ctx, "schedule10", 10, false);
            data.bh.schedule();
            assertEquals(0, data.n);
            assertTrue(ctx.poll(false));
            assertEquals(1, data.n, "rescheduled during the pass: runs in the next pass");
            assertTrue(ctx.poll(true));
            assertEquals(2, data.n);
            for (int expected = 3; expected <= 10; expected++) {
                assertTrue(ctx.poll(true));
                assertEquals(expected, data.n);
            }
            assertFalse(ctx.poll(false));
            assertEquals(10, data.n);
            data.bh.delete();
        }
    }

    @ParameterizedTest
    @EnumSource(TestMonitor.class)
    void aCancelledBhDoesNotRun(TestMonitor monitor) {
        try (AioContext ctx = monitor.newContext("bh-cancel")) {
            Loops.drain(ctx);
            Counted data = new Counted(ctx, "cancel", 0, false);
            data.bh.schedule();
            data.bh.cancel();
            assertFalse(data.bh.isScheduled());
            assertFalse(ctx.poll(false));
            assertEquals(0, data.n);
            // A cancelled BH can be scheduled again.
            data.bh.schedule();
            assertTrue(ctx.poll(false));
            assertEquals(1, data.n);
            data.bh.delete();
        }
    }

    @ParameterizedTest
    @EnumSource(TestMonitor.class)
    void aDeletedBhDoesNotRunAndCannotBeScheduledAgain(TestMonitor monitor) {
        try (AioContext ctx = monitor.newContext("bh-delete")) {
            Loops.drain(ctx);
            Counted data = new Counted(ctx, "delete", 0, false);
            data.bh.schedule();
            data.bh.delete();
            assertFalse(ctx.poll(false));
            assertEquals(0, data.n);
            data.bh.delete(); // idempotent
            IllegalStateException e = assertThrows(IllegalStateException.class, data.bh::schedule);
            assertTrue(e.getMessage().contains("'delete'"), e.getMessage());
        }
    }

    @ParameterizedTest
    @EnumSource(TestMonitor.class)
    void aBhMayDeleteItselfFromItsCallback(TestMonitor monitor) {
        try (AioContext ctx = monitor.newContext("bh-callback-delete-one")) {
            Loops.drain(ctx);
            Counted data = new Counted(ctx, "one", 1, true);
            data.bh.schedule();
            Loops.pollCount(ctx, () -> data.bh == null, 10);
            assertEquals(1, data.n);
            assertFalse(ctx.poll(false));
        }
    }

    @ParameterizedTest
    @EnumSource(TestMonitor.class)
    void manyBhsDeleteThemselvesAtDifferentCounts(TestMonitor monitor) {
        try (AioContext ctx = monitor.newContext("bh-callback-delete-many")) {
            Loops.drain(ctx);
            int[] maxima = {1, 3, 2, 4};
            List<Counted> all = new ArrayList<>();
            for (int i = 0; i < maxima.length; i++) {
                all.add(new Counted(ctx, "many-" + i, maxima[i], true));
            }
            all.forEach(c -> c.bh.schedule());
            assertTrue(ctx.poll(false));
            for (Counted c : all) {
                assertEquals(1, c.n, "the first pass runs each BH once");
            }
            Loops.pollCount(ctx, () -> all.stream().allMatch(c -> c.bh == null), 20);
            for (int i = 0; i < maxima.length; i++) {
                assertEquals(maxima[i], all.get(i).n);
            }
            assertFalse(ctx.poll(false));
        }
    }

    @ParameterizedTest
    @EnumSource(TestMonitor.class)
    void aBlockingPollFlushesAScheduledBh(TestMonitor monitor) {
        try (AioContext ctx = monitor.newContext("bh-flush")) {
            Loops.drain(ctx);
            Counted data = new Counted(ctx, "flush", 0, false);
            data.bh.schedule();
            Loops.pollCount(ctx, () -> data.n > 0, 5);
            assertEquals(1, data.n);
            assertFalse(ctx.poll(false));
            data.bh.delete();
        }
    }

    @ParameterizedTest
    @EnumSource(TestMonitor.class)
    void schedulingManyTimesQueuesOnceAndRunsOnce(TestMonitor monitor) {
        try (AioContext ctx = monitor.newContext("bh-once")) {
            Loops.drain(ctx);
            Counted data = new Counted(ctx, "once", 0, false);
            for (int i = 0; i < 100; i++) {
                data.bh.schedule();
            }
            assertTrue(ctx.poll(false));
            assertEquals(1, data.n);
            assertFalse(ctx.poll(false));
            data.bh.delete();
        }
    }

    @ParameterizedTest
    @EnumSource(TestMonitor.class)
    void bhsRunInSchedulingOrderAndNewOnesWaitForTheNextPass(TestMonitor monitor) {
        try (AioContext ctx = monitor.newContext("bh-order")) {
            Loops.drain(ctx);
            List<String> log = new ArrayList<>();
            ctx.scheduleOneShot("a", () -> {
                log.add("a");
                ctx.scheduleOneShot("c", () -> log.add("c"));
            });
            ctx.scheduleOneShot("b", () -> log.add("b"));
            assertTrue(ctx.poll(false));
            assertEquals(List.of("a", "b"), log);
            assertTrue(ctx.poll(false));
            assertEquals(List.of("a", "b", "c"), log);
            assertFalse(ctx.poll(false));
        }
    }

    @ParameterizedTest
    @EnumSource(TestMonitor.class)
    void anIdleBhRunsWithoutCountingAsProgressAndWakesABlockingPoll(TestMonitor monitor) {
        try (AioContext ctx = monitor.newContext("bh-idle")) {
            Loops.drain(ctx);
            Counted data = new Counted(ctx, "idle", 0, false);
            data.bh.scheduleIdle();
            // The blocking poll does not block forever: idle BHs are polled at least every 10 ms.
            int polls = Loops.pollCount(ctx, () -> data.n == 1, 1000);
            assertTrue(polls >= 1);
            assertEquals(1, data.n);
            data.bh.scheduleIdle();
            boolean progress = ctx.poll(false);
            assertEquals(2, data.n, "a non-blocking poll runs a pending idle BH");
            assertFalse(progress, "an idle BH is not progress");
            data.bh.delete();
        }
    }

    /**
     * An idle BH that reschedules itself runs about every 10 ms, not millions of times a second: scheduled by the
     * loop itself, it no longer notifies the loop, whose next wait would then not block at all. Bounded by a
     * timer 50 ms out: a handful of runs, where the notifying version made thousands (a CPU spinning).
     */
    @ParameterizedTest
    @EnumSource(TestMonitor.class)
    void anIdleBhReschedulingItselfDoesNotSpinTheLoop(TestMonitor monitor) {
        try (AioContext ctx = monitor.newContext("bh-idle-again")) {
            Loops.drain(ctx);
            int[] runs = {0};
            BottomHalf[] self = new BottomHalf[1];
            self[0] = ctx.newBottomHalf("again", () -> {
                runs[0]++;
                self[0].scheduleIdle();
            });
            boolean[] rang = {false};
            Timer alarm = ctx.newTimer("alarm", () -> rang[0] = true);
            alarm.modAfterNs(TimeUnit.MILLISECONDS.toNanos(50));
            self[0].scheduleIdle();
            Loops.pollUntil(ctx, () -> rang[0]);
            assertTrue(runs[0] >= 1 && runs[0] < 1000, runs[0] + " runs in 50 ms");
            self[0].delete();
            alarm.delete();
            Loops.drain(ctx);
        }
    }

    @ParameterizedTest
    @EnumSource(TestMonitor.class)
    void closingWithALiveBhReportsItByName(TestMonitor monitor) {
        AioContext ctx = monitor.newContext("bh-leak");
        ctx.newBottomHalf("forgotten", () -> {
        });
        BottomHalf deleted = ctx.newBottomHalf("deleted", () -> {
        });
        deleted.delete();
        ctx.scheduleOneShot("pending-one-shot", () -> {
        });
        IllegalStateException e = assertThrows(IllegalStateException.class, ctx::close);
        assertTrue(e.getMessage().contains("BH 'forgotten' leaked"), e.getMessage());
        assertTrue(e.getMessage().contains("BH 'pending-one-shot' leaked"), e.getMessage());
        assertFalse(e.getMessage().contains("'deleted'"), e.getMessage());
        assertTrue(ctx.isClosed());
        ctx.close(); // idempotent, nothing more to report
        assertThrows(IllegalStateException.class, () -> ctx.scheduleOneShot("late", () -> {
        }));
    }
}
