package io.blockloop.aio;

import io.blockloop.ffm.libc.EventFd;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Adaptive busy polling: handlers join on first dispatch, poll-ready without an fd event, begin/end. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class BusyPollingTest {

    @ParameterizedTest
    @EnumSource(TestMonitor.class)
    void aPolledHandlerGetsItsWorkWithoutItsFdFiring(TestMonitor monitor) {
        try (AioContext ctx = monitor.newContext("busy-poll"); EventFd e = EventFd.create()) {
            ctx.setPollParams(1_000_000_000L, 0, 0);
            boolean[] work = {false};
            int[] reads = {0};
            int[] readies = {0};
            List<String> phases = new ArrayList<>();
            ctx.setEventNotifier(e, () -> {
                e.drain();
                reads[0]++;
            }, () -> work[0], () -> {
                readies[0]++;
                work[0] = false;
            });
            ctx.setEventNotifierPoll(e, () -> phases.add("begin"), () -> phases.add("end"));
            Loops.drain(ctx);
            int before = ctx.polledHandlerCount();
            // Joins busy polling the first time it is dispatched.
            e.signal();
            Loops.pollUntil(ctx, () -> reads[0] == 1);
            assertEquals(before + 1, ctx.polledHandlerCount());

            // Work that only the poll check sees: no fd event, yet the blocking poll finds it by polling.
            PollingStats before3 = ctx.pollingStats();
            for (int i = 0; i < 3; i++) {
                work[0] = true;
                Loops.pollUntil(ctx, () -> !work[0]);
            }
            assertTrue(readies[0] >= 1, "never dispatched through busy polling");
            assertEquals(1, reads[0]);
            assertTrue(phases.contains("begin"), "poll mode never started: " + phases);
            PollingStats spun = ctx.pollingStats().since(before3);
            assertTrue(spun.windowsFoundWork() >= 1 && spun.windows() >= spun.windowsFoundWork(),
                    "the windows that found the work were not counted: " + spun);

            // Parameters from another thread reset the polling times and can switch polling off.
            Thread t = Thread.ofPlatform().start(() -> ctx.setPollParams(PollParams.OFF));
            joinQuietly(t);
            assertFalse(ctx.pollParams().enabled());
            // Off, nothing spins: the work is found through the fd, and no window is counted.
            PollingStats beforeOff = ctx.pollingStats();
            work[0] = true;
            e.signal();
            Loops.pollUntil(ctx, () -> reads[0] == 2);
            assertEquals(PollingStats.NONE, ctx.pollingStats().since(beforeOff));
            // The counters are the home thread's: another thread is refused.
            Throwable[] refused = {null};
            Thread reader = Thread.ofPlatform().start(() -> {
                try {
                    ctx.pollingStats();
                } catch (IllegalStateException ex) {
                    refused[0] = ex;
                }
            });
            joinQuietly(reader);
            assertTrue(refused[0] != null, "pollingStats() answered another thread");
            ctx.removeEventNotifier(e);
            Loops.drain(ctx);
        }
    }

    @ParameterizedTest
    @EnumSource(TestMonitor.class)
    void underPollAndEpollAHandlerThatCannotPollDisablesBusyPolling(TestMonitor monitor) {
        try (AioContext ctx = monitor.newContext("poll-disabled"); EventFd polled = EventFd.create();
             EventFd plain = EventFd.create()) {
            ctx.setPollParams(1_000_000_000L, 0, 0);
            int[] checks = {0};
            ctx.setEventNotifier(polled, polled::drain, () -> {
                checks[0]++;
                return false;
            }, () -> {
            });
            polled.signal();
            Loops.pollUntil(ctx, () -> ctx.polledHandlerCount() >= 1);
            ctx.setEventNotifier(plain, plain::drain, null, null);
            Loops.drain(ctx);
            int before = checks[0];
            plain.signal();
            Loops.pollUntil(ctx, () -> !doorbellSet(plain));
            if (ctx.monitor().seesReadinessWithoutWaiting()) {
                assertTrue(checks[0] >= before, "io_uring may keep polling");
            } else {
                assertEquals(before, checks[0], "busy polling ran although a handler cannot poll");
            }
            ctx.removeEventNotifier(polled);
            ctx.removeEventNotifier(plain);
        }
    }

    @ParameterizedTest
    @EnumSource(TestMonitor.class)
    void aNonBlockingPollLooksAtFdsEvenWhenEveryHandlerCouldPoll(TestMonitor monitor) {
        try (AioContext ctx = monitor.newContext("all-pollable"); EventFd e = EventFd.create()) {
            int[] reads = {0};
            // Polling off, and a poll check that never sees the work: only the fd tells.
            ctx.setEventNotifier(e, () -> {
                e.drain();
                reads[0]++;
            }, () -> false, () -> {
            });
            Loops.drain(ctx);
            e.signal();
            for (int i = 0; i < 100 && reads[0] == 0; i++) {
                ctx.poll(false);
            }
            assertEquals(1, reads[0], "poll(false) never looked at the ready fd");
            // Same with busy polling on, while a BH keeps every iteration non-blocking.
            ctx.setPollParams(1_000_000_000L, 0, 0);
            BottomHalf[] spinner = new BottomHalf[1];
            spinner[0] = ctx.newBottomHalf("spinner", () -> spinner[0].schedule());
            spinner[0].schedule();
            e.signal();
            for (int i = 0; i < 100 && reads[0] == 1; i++) {
                ctx.poll(true);
            }
            assertEquals(2, reads[0], "a self-rescheduling BH starved the fd");
            spinner[0].delete();
            ctx.removeEventNotifier(e);
        }
    }

    /**
     * The shared-CPU pattern made deterministic: the work always arrives right after a spin window ran out (the
     * poll-end callback produces it, as a producer on the same CPU would once the spinner blocks). After the
     * contention limit of such windows the context stops spinning, and spins again once the suspension is over.
     */
    @ParameterizedTest
    @EnumSource(TestMonitor.class)
    void spinningThatOnlyDelaysItsWorkIsSuspended(TestMonitor monitor) throws InterruptedException {
        try (AioContext ctx = monitor.newContext("spin-backoff"); EventFd e = EventFd.create()) {
            // 1 ms: a wait that ends within 1 ms of its window counts even on a loaded machine; shrink 2 keeps the
            // polling time above 0 after a slow wait (shrink 0 would reset it and stop the windows).
            ctx.setPollParams(1_000_000, 2, 2);
            int[] reads = {0};
            int[] windows = {0};
            ctx.setEventNotifier(e, () -> {
                e.drain();
                reads[0]++;
            }, () -> false, () -> {
            });
            ctx.setEventNotifierPoll(e, () -> windows[0]++, e::signal);
            // Bounds a blocking poll that has no window (polling time 0): no poll-end signal comes, so after 20 ms
            // the timer fires and the next iteration is signalled before it starts. (Not re-armed per iteration:
            // arming a timer notifies the loop, and the notifier would pay the window.)
            boolean[] stuck = {false};
            Timer[] safety = new Timer[1];
            safety[0] = ctx.newTimer("safety", () -> {
                stuck[0] = true;
                safety[0].modAfterNs(20_000_000);
            });
            safety[0].modAfterNs(20_000_000);
            e.signal();
            Loops.pollUntil(ctx, () -> reads[0] == 1); // joins the polled set
            SpinBackoff backoff = ctx.spinBackoff();
            int limit = backoff.unpaidLimit();
            assertEquals(9 + SpinBackoff.SLACK, limit);

            int windowsBefore = windows[0];
            // Bounded by time, not by a count of iterations: a wait of 1 ms or more (a preemption, a CPU quota)
            // breaks the streak of unpaid windows, and a throttled machine needs more tries to complete one.
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (!backoff.isSuspended() && System.nanoTime() - deadline < 0) {
                if (stuck[0]) {
                    stuck[0] = false;
                    e.signal();
                }
                ctx.poll(true);
            }
            assertTrue(backoff.isSuspended(), "spinning never stopped within 20 s");
            assertEquals(1, backoff.suspensions());
            assertTrue(windows[0] - windowsBefore >= limit,
                    "suspended after " + (windows[0] - windowsBefore) + " windows, limit " + limit);

            // While suspended, an iteration does not spin. (Checked only when the poll certainly ran inside the
            // 1 ms suspension: time cannot be held still here.)
            int windowsAtTrip = windows[0];
            e.signal();
            ctx.poll(true);
            if (ctx.nowNs() - backoff.suspendedUntilNs() < 0) {
                assertEquals(windowsAtTrip, windows[0], "spun while suspended");
            }

            // Once the suspension is over, an iteration spins again (the probe).
            while (ctx.nowNs() - backoff.suspendedUntilNs() < 0) {
                Thread.sleep(1);
            }
            int windowsAfter = windows[0];
            for (int i = 0; i < 1_000 && windows[0] == windowsAfter; i++) {
                if (stuck[0]) {
                    stuck[0] = false;
                    e.signal();
                }
                ctx.poll(true);
            }
            assertTrue(windows[0] > windowsAfter, "spinning did not resume after the suspension");
            safety[0].delete();
            ctx.removeEventNotifier(e);
            Loops.drain(ctx);
        }
    }

    /**
     * Under io_uring a spin that stops because a completion showed up in the CQ ring found its work: the window is
     * paid, even though no handler's poll check saw anything (here the handler's check never does). Were such windows
     * neutral, a loop whose work arrives only as CQEs (io_uring on the loop's own ring) would never count a window
     * paid, and its spinning would be suspended as if it only delayed the work.
     *
     * <p>The completion comes from the home thread itself, so no other thread has to hit the window: the eventfd's
     * poll-begin callback writes it as the loop enters busy polling, after the spin's own needWait() found the ring
     * idle (so the eventfd's POLL_ADD is armed) and before the first poll check. The write wakes that POLL_ADD, whose
     * completion is task work of the home thread: posted as the write returns to user space, or on a cooperative
     * ring ({@code IORING_SETUP_TASKRUN_FLAG}) announced by {@code IORING_SQ_TASKRUN} until the next enter. needWait()
     * sees either at its first look, so the first window is cut short at once (a callback cannot be preempted by
     * the loop it runs in). Before, another thread signalled every 100 µs and the test waited for one signal to
     * land inside a window.
     */
    @Test
    void underIoUringASpinCutShortByACompletionIsPaid() {
        try (AioContext ctx = TestMonitor.IO_URING.newContext("cqe-paid"); EventFd e = EventFd.create()) {
            ctx.setPollParams(1_000_000, 2, 2);
            int[] reads = {0};
            int[] begins = {0};
            ctx.setEventNotifier(e, () -> {
                e.drain();
                reads[0]++;
            }, () -> false, () -> {
            });
            ctx.setEventNotifierPoll(e, () -> {
                begins[0]++;
                e.signal();
            }, () -> {
            });
            e.signal();
            Loops.pollUntil(ctx, () -> reads[0] == 1); // joins the polled set
            assertEquals(0, begins[0], "busy polling began before the handler joined it");
            long paidBefore = ctx.spinBackoff().paidWindows();
            PollingStats before = ctx.pollingStats();
            // The first window (its own 4 µs, or a probe of the full 1 ms if the join's wait was too long to open
            // it) begins busy polling; its signal is read in that iteration's wait, and while its CQE is pending
            // no other window starts (needWait()).
            Loops.pollUntil(ctx, () -> reads[0] == 2);
            assertEquals(1, begins[0]);
            PollingStats spun = ctx.pollingStats().since(before);
            assertEquals(1, spun.windows(), spun.toString());
            assertEquals(1, spun.windowsFoundWork(), "the window cut short by the CQE is not counted: " + spun);
            assertEquals(paidBefore + 1, ctx.spinBackoff().paidWindows(), "no spin cut short by a CQE counted as paid");
            ctx.removeEventNotifier(e);
            Loops.drain(ctx);
        }
    }

    private static boolean doorbellSet(EventFd e) {
        try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
            java.lang.foreign.MemorySegment pollfd = arena.allocate(io.blockloop.ffm.libc.Poll.POLLFD_SIZE, 8);
            io.blockloop.ffm.libc.Poll.set(pollfd, 0, e.fd(), io.blockloop.ffm.libc.Poll.POLLIN);
            return io.blockloop.ffm.libc.Poll.ppoll(pollfd, 1, 0) == 1;
        }
    }

    private static void joinQuietly(Thread t) {
        try {
            t.join();
        } catch (InterruptedException ex) {
            Thread.currentThread().interrupt();
        }
    }
}
