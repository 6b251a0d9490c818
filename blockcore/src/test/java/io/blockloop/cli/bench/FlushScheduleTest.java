package io.blockloop.cli.bench;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The bookkeeping of {@code --flush-interval}: which write a flush follows, and when it may start. */
class FlushScheduleTest {

    @Test
    void drainedTheNthWriteRaisesTheBarrierAndTheFlushStartsWhenTheLastWriteInFlightEnds() {
        FlushSchedule s = new FlushSchedule(4, true);
        boolean[] after = new boolean[5];
        for (int i = 1; i <= 4; i++) {
            assertFalse(s.holdsWrites(), "write " + i + " held back before the 4th was issued");
            after[i] = s.writeIssued(i);
        }
        assertFalse(after[1] || after[2] || after[3]);
        assertTrue(after[4], "the 4th write is the flush's");
        assertTrue(s.holdsWrites(), "no 5th write before the flush");
        // They end in another order than they were issued: the flush waits for the last one, whichever it is.
        assertFalse(s.writeCompleted(after[4]));
        assertFalse(s.writeCompleted(after[1]));
        assertFalse(s.writeCompleted(after[3]));
        assertTrue(s.writeCompleted(after[2]), "the last write in flight ended: flush now");
        assertTrue(s.holdsWrites(), "the barrier stands while the flush runs");
        s.flushEnded();
        assertFalse(s.holdsWrites());
        assertFalse(s.writeIssued(5));
        assertFalse(s.writeCompleted(false), "no flush due");
    }

    @Test
    void undrainedTheFlushStartsWhenTheNthWriteEndsWhateverElseIsInFlight() {
        FlushSchedule s = new FlushSchedule(2, false);
        assertFalse(s.writeIssued(1));
        assertTrue(s.writeIssued(2));
        assertFalse(s.holdsWrites(), "without draining nobody waits");
        assertFalse(s.writeIssued(3));
        assertTrue(s.writeCompleted(true), "the 2nd write ended: flush, with writes 1 and 3 in flight");
        assertFalse(s.writeCompleted(false));
        s.flushEnded();
        assertFalse(s.holdsWrites());
    }

    @Test
    void abandonAndResetDropTheBarrier() {
        FlushSchedule s = new FlushSchedule(1, true);
        assertTrue(s.writeIssued(1));
        assertTrue(s.holdsWrites());
        s.abandon();
        assertFalse(s.holdsWrites());
        assertFalse(s.writeCompleted(true), "an abandoned flush does not start later");
        assertTrue(s.writeIssued(2));
        s.reset();
        assertFalse(s.holdsWrites(), "a new phase starts without a barrier");
        assertTrue(s.writeIssued(1));
        assertTrue(s.writeCompleted(true), "and counts its writes in flight from 0");
    }

    @Test
    void anIntervalBelowOneIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> new FlushSchedule(0, true));
    }
}
