package io.blockloop.aio;

import io.blockloop.ffm.libc.EventFd;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Probes of closed busy-polling windows: the bookkeeping with synthetic times, then a loop whose work comes
 * sooner while it spins than while it sleeps (a loop device's read on a VM): QEMU's rule alone never opens the
 * window there, a probe does; and probes that never pay thin out.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class WindowProbeTest {
    private static final long MS = 1_000_000;

    @Test
    void theFirstProbeIsDueAtOnceAndUnpaidOnesThinOutToOnePerSecond() {
        WindowProbe p = new WindowProbe();
        long now = 5_000 * MS;
        assertTrue(p.due(now));
        long expected = WindowProbe.MIN_INTERVAL_NS;
        for (int i = 0; i < 15; i++) {
            p.unpaid(now);
            assertFalse(p.due(now + expected - 1), "probe " + i + " due before its interval of " + expected);
            assertTrue(p.due(now + expected), "probe " + i + " not due after its interval of " + expected);
            now += expected;
            expected = Math.min(expected * 2, WindowProbe.MAX_INTERVAL_NS);
        }
        assertEquals(WindowProbe.MAX_INTERVAL_NS, p.intervalNs());
        assertEquals(15, p.unpaidProbes());
    }

    @Test
    void afterAPaidProbeTheNextIsDueAtOnceAndTheBackOffStartsAgain() {
        WindowProbe p = new WindowProbe();
        long now = 0;
        for (int i = 0; i < 5; i++) {
            p.unpaid(now);
            now += p.intervalNs();
        }
        p.paid();
        assertTrue(p.due(now), "a window closed right after a paid probe waits for the next one");
        assertEquals(1, p.paidProbes());
        p.unpaid(now);
        assertFalse(p.due(now + WindowProbe.MIN_INTERVAL_NS - 1));
        assertTrue(p.due(now + WindowProbe.MIN_INTERVAL_NS), "the back-off did not start again at 1 ms");
        // New parameters: due at once again.
        p.reset();
        assertTrue(p.due(now));
    }

    /**
     * Requests that complete 200 µs into a spin, or 5 ms after the loop went to sleep. Every blocking wait is
     * over the 1 ms maximum, so QEMU's rule keeps the handler's window at 0; the first probe finds the work
     * within the window and opens it, and from then on the requests complete through the poll check.
     */
    @ParameterizedTest
    @EnumSource(TestMonitor.class)
    void aProbeOpensTheWindowForWorkThatComesSoonerWhileTheLoopSpins(TestMonitor monitor) throws Exception {
        try (AioContext ctx = monitor.newContext("probe-pays"); SlowPath slow = new SlowPath(5 * MS)) {
            int[] viaPoll = {0};
            slow.attach(ctx, () -> slow.outstandingFor(200_000), () -> {
                slow.complete();
                viaPoll[0]++;
            });
            long paidBefore = ctx.windowProbe().paidProbes();
            PollingStats before = ctx.pollingStats();
            slow.run(ctx, () -> slow.completedViaFd() + viaPoll[0] >= 200);
            int viaFd = slow.completedViaFd();
            // Were the window never opened, every request would take the 5 ms path.
            assertTrue(viaPoll[0] > viaFd * 4, "through the poll check " + viaPoll[0] + ", through the fd " + viaFd);
            assertTrue(ctx.windowProbe().paidProbes() > paidBefore, "no probe paid");
            // The public counters tell the same story: the probes that paid, and windows that mostly found work.
            PollingStats spun = ctx.pollingStats().since(before);
            assertEquals(ctx.windowProbe().paidProbes() - paidBefore, spun.probesFoundWork(), spun.toString());
            assertTrue(spun.windowsFoundWork() > spun.windows() / 2, "windows mostly spun in vain: " + spun);
            assertTrue(spun.spinNanos() > 0, spun.toString());
            slow.detach(ctx);
        }
    }

    /**
     * Requests that complete 10 ms after they are issued, spinning or not: far beyond the 1 ms maximum, so a probe
     * finds nothing. Probes back off from 1 ms towards 1 s: over 50 requests (at least 500 ms) there are about
     * log2(elapsed / 1 ms) + 1 of them, not one per request. The bound allows twice that, for a probe that a
     * descheduled spin overran into the completion (under io_uring its CQE then counts as found, and the
     * interval starts again at 1 ms).
     */
    @ParameterizedTest
    @EnumSource(TestMonitor.class)
    void probesThatNeverPayThinOut(TestMonitor monitor) throws Exception {
        try (AioContext ctx = monitor.newContext("probe-unpaid"); SlowPath slow = new SlowPath(10 * MS)) {
            slow.attach(ctx, () -> false, () -> {
            });
            Loops.drain(ctx); // takes the notification of pollUntil's timer, which a window would find
            long start = System.nanoTime();
            long before = ctx.windowProbe().unpaidProbes() + ctx.windowProbe().paidProbes();
            long unpaidBefore = ctx.windowProbe().unpaidProbes();
            PollingStats statsBefore = ctx.pollingStats();
            slow.run(ctx, () -> slow.completedViaFd() >= 51);
            long elapsedMs = Math.max(1, (System.nanoTime() - start) / MS);
            long probes = ctx.windowProbe().unpaidProbes() + ctx.windowProbe().paidProbes() - before;
            PollingStats spun = ctx.pollingStats().since(statsBefore);
            assertEquals(probes, spun.probes(), "probes counted apart from WindowProbe's own count: " + spun);
            assertTrue(spun.spinNanos() > 0, spun.toString());
            long bound = 2 * (64 - Long.numberOfLeadingZeros(elapsedMs) + 1);
            assertTrue(ctx.windowProbe().unpaidProbes() > unpaidBefore, "no probe ran");
            assertTrue(probes <= bound, probes + " probes over 50 requests in " + elapsedMs + " ms, more than "
                    + bound);
            slow.detach(ctx);
        }
    }

    /**
     * One request at a time. Its completion shows in a poll check once it is old enough; a helper thread also
     * signals an eventfd of its own {@code slowNs} after the request was issued, if the request is still
     * outstanding (the path a sleeping loop is woken by).
     */
    private static final class SlowPath implements AutoCloseable {
        private final EventFd fd;
        private final long slowNs;
        private final Thread helper;
        private volatile boolean closed;
        /** Id of the outstanding request, 0 when none. Written by the loop thread, read by the helper. */
        private volatile long outstanding;
        private volatile long issuedNs;
        /** Id of the request the helper signalled for. */
        private volatile long signalled;
        private long nextId;

        /** Requests completed through the eventfd. Loop thread only. */
        private int completedViaFd;

        SlowPath(long slowNs) {
            this.fd = EventFd.create();
            this.slowNs = slowNs;
            this.helper = Thread.ofPlatform().name("slow-path").start(this::signalLateRequests);
        }

        /**
         * Polls {@code ctx} for up to 1 ms per wait, makes the eventfd a handler of it with this poll check and
         * poll-ready callback, and runs one request through the fd path, so the handler joins the polled set.
         */
        void attach(AioContext ctx, BooleanSupplier pollCheck, Runnable onPollReady) {
            ctx.setPollParams(MS, 0, 0);
            ctx.setEventNotifier(fd, () -> {
                fd.drain();
                if (completeIfSignalled()) {
                    completedViaFd++;
                }
            }, pollCheck, onPollReady);
            issue();
            Loops.pollUntil(ctx, () -> !isOutstanding());
        }

        /** Issues a request whenever none is outstanding and polls {@code ctx}, blocking, until {@code done}. */
        void run(AioContext ctx, BooleanSupplier done) {
            while (!done.getAsBoolean()) {
                if (!isOutstanding()) {
                    issue();
                }
                ctx.poll(true);
            }
        }

        /** Removes the eventfd's handler from {@code ctx} and lets the loop settle. */
        void detach(AioContext ctx) {
            ctx.removeEventNotifier(fd);
            Loops.drain(ctx);
        }

        int completedViaFd() {
            return completedViaFd;
        }

        void issue() {
            issuedNs = System.nanoTime();
            outstanding = ++nextId;
            LockSupport.unpark(helper);
        }

        boolean isOutstanding() {
            return outstanding != 0;
        }

        boolean outstandingFor(long ns) {
            return outstanding != 0 && System.nanoTime() - issuedNs >= ns;
        }

        void complete() {
            outstanding = 0;
        }

        /** Completes the outstanding request if the helper signalled for it. */
        boolean completeIfSignalled() {
            long id = outstanding;
            if (id != 0 && signalled == id) {
                outstanding = 0;
                return true;
            }
            return false;
        }

        private void signalLateRequests() {
            long last = 0;
            while (!closed) {
                long id = outstanding;
                if (id == 0 || id == last) {
                    LockSupport.parkNanos(100_000);
                    continue;
                }
                long due = issuedNs + slowNs;
                long wait;
                while ((wait = due - System.nanoTime()) > 0 && !closed) {
                    LockSupport.parkNanos(wait);
                }
                last = id;
                if (outstanding == id) {
                    signalled = id;
                    fd.signal();
                }
            }
        }

        @Override
        public void close() throws InterruptedException {
            closed = true;
            LockSupport.unpark(helper);
            helper.join();
            fd.close();
        }
    }
}
