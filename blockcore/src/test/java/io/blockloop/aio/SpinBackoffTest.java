package io.blockloop.aio;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The contention rule of busy polling, driven with synthetic times: a streak of spin windows that ran out just
 * before their work arrived suspends spinning; paid windows, idle waits and new parameters behave as designed.
 */
class SpinBackoffTest {
    private static final long MAX_NS = PollParams.IOTHREAD_DEFAULT_MAX_NS;
    /** A wait that ended with progress 2 µs after its unpaid window: the work came as soon as the spin stopped. */
    private static final long QUICK_NS = 2_000;

    private long now = 1_000_000_000L;

    private SpinBackoff backoff(PollParams params) {
        SpinBackoff b = new SpinBackoff();
        b.reset(params);
        return b;
    }

    /** One unpaid window of 10 µs followed by a wait of {@code waitNs}; returns whether it suspended spinning. */
    private boolean unpaid(SpinBackoff b, long waitNs, boolean progress) {
        assertTrue(b.mayStart(now), "spinning is suspended");
        now += 10_000;
        long windowEnd = now;
        now += waitNs;
        return b.windowUnpaid(windowEnd, now, progress);
    }

    @Test
    void theLimitIsTheGrowthLadderPlusSlack() {
        // 4, 8, 16, 32, 32.768 µs: five windows on the way to the IOThread default, plus 3.
        assertEquals(8, SpinBackoff.unpaidLimit(PollParams.IOTHREAD_DEFAULT));
        assertEquals(5 + SpinBackoff.SLACK, SpinBackoff.unpaidLimit(new PollParams(MAX_NS, 2, 2)));
        // grow 4: 4, 16, 32.768 µs.
        assertEquals(3 + SpinBackoff.SLACK, SpinBackoff.unpaidLimit(new PollParams(MAX_NS, 4, 0)));
        // 1 ms: 4, 8, ..., 512, 1000 µs.
        assertEquals(9 + SpinBackoff.SLACK, SpinBackoff.unpaidLimit(new PollParams(1_000_000, 0, 0)));
        // At or below the first polling time there is one window size.
        assertEquals(1 + SpinBackoff.SLACK,
                SpinBackoff.unpaidLimit(new PollParams(AdaptivePoller.INITIAL_POLL_NS, 0, 0)));
        // Huge values terminate.
        assertTrue(SpinBackoff.unpaidLimit(new PollParams(Long.MAX_VALUE, Long.MAX_VALUE, 0)) > SpinBackoff.SLACK);
    }

    @Test
    void aStreakOfUnpaidWindowsSuspendsSpinningForOneMillisecond() {
        SpinBackoff b = backoff(PollParams.IOTHREAD_DEFAULT);
        int limit = b.unpaidLimit();
        for (int i = 1; i < limit; i++) {
            assertFalse(unpaid(b, QUICK_NS, true), "suspended after " + i + " of " + limit + " unpaid windows");
            assertEquals(i, b.unpaidStreak());
        }
        assertTrue(unpaid(b, QUICK_NS, true));
        assertTrue(b.isSuspended());
        assertEquals(1, b.suspensions());
        assertEquals(now + SpinBackoff.MIN_SUSPEND_NS, b.suspendedUntilNs());
        assertEquals(0, b.unpaidStreak());

        assertFalse(b.mayStart(now), "spins right after the suspension began");
        assertFalse(b.mayStart(b.suspendedUntilNs() - 1), "spins before the suspension is over");
        assertTrue(b.mayStart(b.suspendedUntilNs()), "still suspended when it should be over");
        assertFalse(b.isSuspended());
    }

    @Test
    void aPaidWindowBreaksTheStreak() {
        SpinBackoff b = backoff(PollParams.IOTHREAD_DEFAULT);
        int limit = b.unpaidLimit();
        for (int round = 0; round < 10; round++) {
            for (int i = 1; i < limit; i++) {
                assertFalse(unpaid(b, QUICK_NS, true));
            }
            b.windowPaid();
            assertEquals(0, b.unpaidStreak());
        }
        assertFalse(b.isSuspended());
        assertEquals(0, b.suspensions());
    }

    @Test
    void idleWaitsAndWaitsWithoutProgressDoNotCount() {
        SpinBackoff b = backoff(PollParams.IOTHREAD_DEFAULT);
        for (int i = 0; i < 100; i++) {
            // The loop went idle after the spin (QEMU's shrink case): a longer spin would not have helped.
            assertFalse(unpaid(b, MAX_NS, true));
            // The wait ended without a BH or handler running (a timer, a spurious wake-up).
            assertFalse(unpaid(b, QUICK_NS, false));
        }
        assertEquals(0, b.unpaidStreak());
        // ...and they do not reset a streak either.
        assertFalse(unpaid(b, QUICK_NS, true));
        assertFalse(unpaid(b, MAX_NS + 1, true));
        assertEquals(1, b.unpaidStreak());
    }

    @Test
    void failedProbesDoubleTheSuspensionUpTo64MillisecondsAndPaidWindowsRestoreIt() {
        SpinBackoff b = backoff(PollParams.IOTHREAD_DEFAULT);
        int limit = b.unpaidLimit();
        long expected = SpinBackoff.MIN_SUSPEND_NS;
        for (int trip = 0; trip < 10; trip++) {
            for (int i = 1; i < limit; i++) {
                assertFalse(unpaid(b, QUICK_NS, true));
            }
            assertTrue(unpaid(b, QUICK_NS, true));
            assertEquals(now + expected, b.suspendedUntilNs(), "suspension " + trip);
            expected = Math.min(expected * 2, SpinBackoff.MAX_SUSPEND_NS);
            now = b.suspendedUntilNs(); // the probe
        }
        assertEquals(SpinBackoff.MAX_SUSPEND_NS, b.nextSuspendNs());

        // A probe in which spinning pays again (as many paid windows as the limit) restores the 1 ms.
        assertTrue(b.mayStart(now));
        for (int i = 0; i < limit; i++) {
            b.windowPaid();
        }
        assertEquals(SpinBackoff.MIN_SUSPEND_NS, b.nextSuspendNs());
        for (int i = 1; i < limit; i++) {
            assertFalse(unpaid(b, QUICK_NS, true));
        }
        assertTrue(unpaid(b, QUICK_NS, true));
        assertEquals(now + SpinBackoff.MIN_SUSPEND_NS, b.suspendedUntilNs());
    }

    @Test
    void newParametersForgetTheStreakAndTheSuspension() {
        SpinBackoff b = backoff(PollParams.IOTHREAD_DEFAULT);
        for (int i = 0; i < b.unpaidLimit(); i++) {
            unpaid(b, QUICK_NS, true);
        }
        assertTrue(b.isSuspended());
        b.reset(new PollParams(1_000_000, 0, 0));
        assertFalse(b.isSuspended());
        assertEquals(0, b.unpaidStreak());
        assertEquals(SpinBackoff.MIN_SUSPEND_NS, b.nextSuspendNs());
        assertEquals(9 + SpinBackoff.SLACK, b.unpaidLimit());
        b.reset(PollParams.OFF);
        for (int i = 0; i < 100; i++) {
            assertFalse(unpaid(b, QUICK_NS, true), "polling off never suspends");
        }
    }

    @Test
    void ioThreadsPollByDefaultOnlyWithTwoOrMoreProcessors() {
        assertEquals(PollParams.OFF, PollParams.ioThreadDefaultFor(1));
        assertEquals(PollParams.IOTHREAD_DEFAULT, PollParams.ioThreadDefaultFor(2));
        assertEquals(PollParams.IOTHREAD_DEFAULT, PollParams.ioThreadDefaultFor(256));
        assertThrows(IllegalArgumentException.class, () -> PollParams.ioThreadDefaultFor(0));
        assertEquals(PollParams.ioThreadDefaultFor(Runtime.getRuntime().availableProcessors()),
                PollParams.ioThreadDefault());
        try (IOThread io = new IOThread("default-params").start()) {
            assertEquals(PollParams.ioThreadDefault(), io.context().pollParams());
        }
    }
}
