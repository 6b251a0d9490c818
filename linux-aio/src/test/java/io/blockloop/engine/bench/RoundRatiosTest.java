package io.blockloop.engine.bench;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RoundRatiosTest {
    @Test
    void meanAndStudentHalfWidthOfTheRounds() {
        RoundRatios r = new RoundRatios();
        r.add(0.9);
        r.add(1.0);
        r.add(1.1);
        assertEquals(1.0, r.mean(), 1e-12);
        // s = 0.1, standard error 0.1 / sqrt(3), t(0.975, 2 degrees of freedom) = 4.30
        assertEquals(4.30 * 0.1 / Math.sqrt(3), r.halfWidth(), 1e-9);
        assertEquals("1.00x+-0.25", r.meanWithInterval());
        assertEquals("0.90-1.10", r.spread());
    }

    @Test
    void moreThan31RoundsUseTheQuantileFor30DegreesOfFreedom() {
        RoundRatios r = new RoundRatios();
        for (int i = 0; i < 40; i++) {
            r.add(i % 2 == 0 ? 0.95 : 1.05);
        }
        double s = Math.sqrt(40 * 0.05 * 0.05 / 39);
        assertEquals(2.04 * s / Math.sqrt(40), r.halfWidth(), 1e-9); // 39 degrees of freedom: t for 30, 2.04
    }

    @Test
    void oneRoundHasNoIntervalAndNoRoundsShowNothing() {
        RoundRatios r = new RoundRatios();
        assertEquals("-", r.meanWithInterval());
        assertEquals("-", r.spread());
        r.add(Double.NaN); // a run without fio
        assertEquals("-", r.meanWithInterval());
        r.add(0.97);
        assertEquals("0.97x", r.meanWithInterval());
        assertTrue(Double.isNaN(r.halfWidth()));
    }
}
