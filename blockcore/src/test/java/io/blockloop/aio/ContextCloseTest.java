package io.blockloop.aio;

import io.blockloop.coroutine.Coroutine;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What a context accepts while it closes and after: every BH, timer, poll setting or context-local value is either
 * taken into account or refused to its caller, never accepted and then forgotten.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ContextCloseTest {

    @ParameterizedTest
    @EnumSource(TestMonitor.class)
    void theLastPassRunsWhatWasScheduledAndRefusesWhatComesAfter(TestMonitor monitor) {
        AioContext ctx = monitor.newContext("last-pass");
        List<CallbackFailure> failures = new ArrayList<>();
        ctx.setCallbackFailureListener(failures::add);
        List<String> ran = new ArrayList<>();
        BottomHalf persistent = ctx.newBottomHalf("persistent", () -> ran.add("persistent"));
        persistent.schedule();
        ctx.scheduleOneShot("accepted", () -> {
            ran.add("accepted");
            // Scheduled from inside the last pass: refused, so the callback fails and says why.
            ctx.scheduleOneShot("too-late", () -> ran.add("too-late"));
        });

        ctx.bottomHalves().seal();
        persistent.schedule(); // queued from before the seal, so it will run: accepted (merged)
        ctx.runLastBottomHalves();

        assertEquals(List.of("persistent", "accepted"), ran, "both BHs accepted before the seal ran, in order");
        assertEquals(1, failures.size(), failures.toString());
        assertTrue(failures.get(0).error().getMessage().contains("is closed"), failures.get(0).error().getMessage());
        IllegalStateException late = assertThrows(IllegalStateException.class, () -> ctx.scheduleOneShot("late",
                () -> ran.add("late")));
        assertTrue(late.getMessage().contains("'late'") && late.getMessage().contains("is closed"), late.getMessage());
        assertThrows(IllegalStateException.class, persistent::schedule);
        // The refusal undid the PENDING flag its attempt set; otherwise this one would be taken for queued.
        assertThrows(IllegalStateException.class, persistent::schedule, "a refusal left a stale PENDING behind");

        persistent.delete(); // still allowed: the owner's duty before close
        ctx.close(); // nothing leaked: the refused BHs were never queued
        assertEquals(List.of("persistent", "accepted"), ran);
    }

    /**
     * A coroutine scheduled into a context that runs its last BHs is refused before it is listed, so the close
     * does not report it as left behind (its scheduler was already told).
     */
    @ParameterizedTest
    @EnumSource(TestMonitor.class)
    void aCoroutineScheduledIntoAClosingContextIsRefusedAndNotLeftBehind(TestMonitor monitor) {
        AioContext ctx = monitor.newContext("closing-coroutine");
        ctx.runLastBottomHalves();
        assertTrue(ctx.isClosing());
        assertFalse(ctx.isClosed());
        Coroutine co = Coroutine.create(() -> {
        });
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> co.schedule(ctx));
        assertTrue(e.getMessage().contains("is closing"), e.getMessage());
        ctx.close(); // would throw "scheduled coroutines left" had the coroutine been listed
        assertTrue(ctx.isClosing());
    }

    /**
     * The last pass seals the scheduled list before the BH queue and enters what it took at once: what those
     * coroutines schedule as BHs still runs, and a coroutine scheduled into the context from then on is refused at
     * the sealed list (the "is it closing?" check still passes there) with its "scheduled" mark undone.
     */
    @ParameterizedTest
    @EnumSource(TestMonitor.class)
    void theLastPassEntersTheCoroutinesScheduledBeforeItAndRefusesLaterOnes(TestMonitor monitor) {
        AioContext ctx = monitor.newContext("last-coroutines");
        List<String> ran = new ArrayList<>();
        Coroutine late = Coroutine.create(() -> ran.add("late"));
        List<String> refusals = new ArrayList<>();
        Coroutine.create(() -> {
            ran.add("scheduled");
            ctx.scheduleOneShot("from-the-coroutine", () -> ran.add("its BH"));
            try {
                late.schedule(ctx);
            } catch (IllegalStateException e) {
                refusals.add(e.getMessage());
            }
        }).schedule(ctx);

        ctx.runLastBottomHalves();
        assertEquals(List.of("scheduled", "its BH"), ran);
        assertEquals(1, refusals.size(), refusals.toString());
        assertTrue(refusals.get(0).contains("is closing"), refusals.get(0));
        late.enter(); // not left marked as scheduled by the refusal
        assertEquals(List.of("scheduled", "its BH", "late"), ran);
        ctx.close(); // nothing left
    }

    /**
     * A coroutine run by the last pass cannot move: its own context refuses rescheduleSelf's hand-over BH. It gets
     * the refusal and is not left marked as scheduled in the target (which would refuse every later enter).
     */
    @Test
    void aRescheduleSelfWhoseHandOverIsRefusedLeavesTheCoroutineUnmarked() {
        AioContext ctx = TestMonitor.POLL.newContext("refusing-hand-over");
        AioContext target = TestMonitor.POLL.newContext("hand-over-target");
        List<String> seen = new ArrayList<>();
        Coroutine co = Coroutine.create(() -> {
            try {
                Coroutine.rescheduleSelf(target);
            } catch (IllegalStateException e) {
                seen.add(e.getMessage());
            }
            Coroutine.yield();
            seen.add("entered again");
        });
        ctx.scheduleOneShot("enter-in-the-last-pass", () -> co.enterIn(ctx));
        ctx.runLastBottomHalves();
        assertEquals(1, seen.size(), seen.toString());
        assertTrue(seen.get(0).contains("'co-reschedule-self'") && seen.get(0).contains("is closed"), seen.get(0));
        co.enter();
        assertEquals("entered again", seen.get(1));
        ctx.close();
        target.close(); // nothing left scheduled there either
    }

    @ParameterizedTest
    @EnumSource(TestMonitor.class)
    void aBhScheduledAfterCloseIsRefusedEvenWhenItPassedTheOpenCheck(TestMonitor monitor) {
        AioContext ctx = monitor.newContext("sealed-by-close");
        BottomHalf bh = ctx.newBottomHalf("kept", () -> {
        });
        bh.delete();
        ctx.close();
        // enqueue() is what a schedule racing close() reaches after its open check passed: the seal refuses it.
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> new BottomHalf(ctx, "racer", () -> {
        }, BottomHalf.ONESHOT).enqueue(BottomHalf.SCHEDULED));
        assertTrue(e.getMessage().contains("is closed"), e.getMessage());
        assertFalse(ctx.bottomHalves().push(new BottomHalf(ctx, "x", () -> {
        }, 0)), "a sealed queue takes nothing");
    }

    /**
     * A timer callback runs inside the poll, as a BH does: it cannot close its own context, nor can another thread
     * close it under the callback. Timers used to run after the poll's depth was dropped, and both closes were
     * taken, the callback going on with the context's engines and rings freed.
     */
    @ParameterizedTest
    @EnumSource(TestMonitor.class)
    void aTimerCallbackCannotCloseItsContextNorCanAnotherThreadUnderIt(TestMonitor monitor) throws Exception {
        AioContext ctx = monitor.newContext("timer-close");
        List<Throwable> refused = new ArrayList<>();
        Timer own = ctx.newTimer("own", () -> refused.add(assertThrows(IllegalStateException.class, ctx::close)));
        own.modNs(0);
        ctx.poll(false);
        assertEquals("AioContext '" + ctx.name() + "' closed from inside its own poll",
                refused.getFirst().getMessage());
        assertFalse(ctx.isClosed());

        CountDownLatch inCallback = new CountDownLatch(1);
        CountDownLatch tried = new CountDownLatch(1);
        Timer slow = ctx.newTimer("slow", () -> {
            inCallback.countDown();
            try {
                Loops.await(tried, "the other thread's close");
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        slow.modNs(0);
        Thread other = Thread.ofPlatform().start(() -> {
            try {
                Loops.await(inCallback, "the timer callback");
                refused.add(assertThrows(IllegalStateException.class, ctx::close));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } finally {
                tried.countDown();
            }
        });
        ctx.poll(false);
        other.join();
        assertTrue(refused.get(1).getMessage().contains("while its home thread polls it"), refused.get(1).getMessage());
        own.delete();
        slow.delete();
        ctx.close();
    }

    /** A timer armed while its context runs its last pass is refused: timers no longer run, nothing would. */
    @ParameterizedTest
    @EnumSource(TestMonitor.class)
    void aTimerArmedInTheLastPassIsRefused(TestMonitor monitor) {
        AioContext ctx = monitor.newContext("closing-timer");
        Timer timer = ctx.newTimer("t", () -> {
        });
        ctx.bottomHalves().seal();
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> timer.modNs(0));
        assertEquals("timer 't': context '" + ctx.name() + "' is closing", e.getMessage());
        timer.delete();
        ctx.close();
    }

    @ParameterizedTest
    @EnumSource(TestMonitor.class)
    void timersAndPollSettingsOfAClosedContextAreRefused(TestMonitor monitor) {
        AioContext ctx = monitor.newContext("closed-timer");
        Timer timer = ctx.newTimer("t", () -> {
        });
        ctx.close();
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> timer.modAfterNs(1_000));
        assertTrue(e.getMessage().contains("timer 't'") && e.getMessage().contains("is closed"), e.getMessage());
        assertThrows(IllegalStateException.class, () -> timer.modNs(0));
        assertThrows(IllegalStateException.class, () -> ctx.setPollParams(PollParams.OFF));
        assertThrows(IllegalStateException.class, () -> ctx.newTimer("late", () -> {
        }));
    }

    @Test
    void aContextLocalFirstUsedByAnotherOnesCleanupIsRefused() {
        AtomicInteger created = new AtomicInteger();
        AtomicBoolean cleanedUp = new AtomicBoolean();
        ContextLocal<Object> late = ContextLocal.of("late", c -> {
            created.incrementAndGet();
            return new Object();
        }, v -> cleanedUp.set(true));
        List<Throwable> seenByCleanup = new ArrayList<>();
        AioContext ctx = TestMonitor.POLL.newContext("local-in-cleanup");
        ContextLocal<AioContext> first = ContextLocal.of("first", c -> c, c -> {
            try {
                late.get(c);
            } catch (IllegalStateException e) {
                seenByCleanup.add(e);
            }
        });
        first.get(ctx);
        ctx.close();
        assertEquals(0, created.get(), "no value is created once the cleanups have begun");
        assertFalse(cleanedUp.get());
        assertEquals(1, seenByCleanup.size());
        assertTrue(seenByCleanup.get(0).getMessage().contains("is closing") && seenByCleanup.get(0).getMessage()
                .contains("late"), seenByCleanup.get(0).getMessage());
    }
}
