package io.blockloop.engine;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The spin window's adaptation, driven with made-up times (no threads, no clock). */
class WorkerSpinTest {
    private static final long MAX = 50_000;

    /** A spin that began at {@code since} missed; the owner's next request came {@code waited} ns after it began. */
    private static void miss(WorkerSpin spin, long waited) {
        assertTrue(spin.tryAcquire());
        spin.missed(1_000);
        assertTrue(spin.missPending());
        spin.requestArrived(1_000 + waited);
        assertFalse(spin.missPending());
    }

    @Test
    void startsWithoutSpinningAndGrowsOnShortWaitsUpToTheMaximum() {
        WorkerSpin spin = new WorkerSpin(MAX);
        assertEquals(0, spin.window());
        long[] expected = {4_000, 8_000, 16_000, 32_000, 50_000, 50_000};
        for (long w : expected) {
            miss(spin, 40_000); // a spin of 40 µs would have caught it
            assertEquals(w, spin.window());
        }
    }

    @Test
    void longWaitsHalveTheWindowDownToZero() {
        WorkerSpin spin = new WorkerSpin(MAX);
        for (int i = 0; i < 5; i++) {
            miss(spin, 40_000);
        }
        long[] expected = {25_000, 12_500, 6_250, 0, 0};
        for (long w : expected) {
            miss(spin, 1_000_000); // far beyond the maximum: spinning was wasted
            assertEquals(w, spin.window());
        }
    }

    @Test
    void aWaitTheWindowAlreadyCoversOrACaughtRequestLeavesTheWindow() {
        WorkerSpin spin = new WorkerSpin(MAX);
        for (int i = 0; i < 4; i++) {
            miss(spin, 40_000);
        }
        assertEquals(32_000, spin.window());
        miss(spin, 20_000);
        assertEquals(32_000, spin.window());
        assertTrue(spin.tryAcquire());
        spin.caught();
        assertEquals(32_000, spin.window());
        spin.requestArrived(5_000_000); // no miss pending: nothing to measure
        assertEquals(32_000, spin.window());
    }

    @Test
    void oneSpinnerAtATime() {
        WorkerSpin spin = new WorkerSpin(MAX);
        assertTrue(spin.tryAcquire());
        assertFalse(spin.tryAcquire(), "a second spinner");
        spin.caught();
        assertTrue(spin.tryAcquire());
        spin.missed(0);
        assertTrue(spin.tryAcquire(), "a miss gives the role up too");
    }

    @Test
    void theHeartbeatGoesStaleAfterTheLimit() {
        WorkerSpin spin = new WorkerSpin(MAX, 0, 20_000);
        spin.beat(1_000_000);
        assertFalse(spin.staleAt(1_000_000));
        assertFalse(spin.staleAt(1_020_000));
        assertTrue(spin.staleAt(1_020_001));
        WorkerSpin never = new WorkerSpin(MAX, 0, -1);
        never.beat(1_000_000);
        assertTrue(never.staleAt(999_999), "a negative limit makes every heartbeat stale");
    }

    @Test
    void aZeroMaximumNeverSpinsAndBadLimitsAreRefused() {
        assertFalse(new WorkerSpin(0).tryAcquire());
        assertThrows(IllegalArgumentException.class, () -> new WorkerSpin(-1));
        assertThrows(IllegalArgumentException.class, () -> new WorkerSpin(MAX, MAX + 1, 0));
        assertEquals(MAX, new WorkerSpin(MAX, MAX, 0).window());
    }
}
