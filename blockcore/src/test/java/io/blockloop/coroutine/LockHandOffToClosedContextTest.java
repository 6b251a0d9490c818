package io.blockloop.coroutine;

import io.blockloop.aio.AioContext;
import io.blockloop.aio.MainLoop;
import io.blockloop.aio.testing.IoThreads;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.LogRecord;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A lock whose next waiter sits in a context that has closed meanwhile (its IOThread stopped with the coroutine
 * parked in the lock: lost, a known limit). The unlock cannot wake it, and before, the hand-off threw out of the
 * unlock with the lock counted as taken by the lost coroutine: every later locker, in a healthy context too, waited
 * for ever. Now the lost waiter is reported and the lock goes on to the next one.
 *
 * <p>Set-up: H holds the lock in the main loop; W, in an IOThread, waits for it; X, in the main loop, waits behind
 * W. The IOThread stops; H's unlock then meets W first.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class LockHandOffToClosedContextTest {

    @Test
    void aCoMutexGoesOnToTheNextWaiterPastOneThatCannotBeWoken() {
        CoMutex mutex = new CoMutex();
        Scenario s = new Scenario(mutex::lock, mutex::unlock, mutex::lock, mutex::unlock, mutex::lock,
                mutex::unlock);
        s.run();
        assertFalse(mutex.isLocked(), mutex.toString());
    }

    @Test
    void aCoMutexWithNobodyBehindTheLostWaiterEndsFree() {
        CoMutex mutex = new CoMutex();
        Scenario s = new Scenario(mutex::lock, mutex::unlock, mutex::lock, mutex::unlock, null, null);
        s.run();
        assertFalse(mutex.isLocked(), mutex.toString());
    }

    @Test
    void aCoRwLockAdmitsTheNextTicketPastAReaderThatCannotBeWoken() {
        CoRwLock lock = new CoRwLock();
        Scenario s = new Scenario(lock::writeLock, lock::unlock, lock::readLock, lock::unlock, lock::writeLock,
                lock::unlock);
        s.run();
        assertEquals("CoRwLock[owners=0, readers=0]", lock.toString());
    }

    @Test
    void aCoRwLockAdmitsTheNextTicketPastAWriterThatCannotBeWoken() {
        CoRwLock lock = new CoRwLock();
        Scenario s = new Scenario(lock::readLock, lock::unlock, lock::writeLock, lock::unlock, lock::readLock,
                lock::unlock);
        s.run();
        assertEquals("CoRwLock[owners=0, readers=0]", lock.toString());
    }

    /** A CoMutex unlocked by a coroutine that is not its holder, right after a hand-off, says so. */
    @Test
    void anUnlockRightAfterAHandOffSaysTheMutexWasHandedOn() {
        AioContext main = MainLoop.init();
        try {
            CoMutex mutex = new CoMutex();
            IllegalStateException[] second = new IllegalStateException[1];
            Coroutine holder = Coroutine.create(() -> {
                mutex.lock();
                Coroutine.yield();
                mutex.unlock();
                second[0] = assertThrows(IllegalStateException.class, mutex::unlock);
            });
            holder.enter();
            Coroutine.create(() -> {
                mutex.lock();
                mutex.unlock();
            }).enter(); // waits
            holder.enter(); // hands the lock to the waiter, which resumes only when the holder ends
            assertTrue(second[0].getMessage().contains("which does not hold it (it was handed to a waiter that has"
                    + " not resumed yet)"), second[0].getMessage());
            assertFalse(mutex.isLocked());
        } finally {
            main.close();
        }
    }

    /** H, W and X as in the class comment; X's lock and unlock are null when nobody waits behind W. */
    private record Scenario(Runnable holderLock, Runnable holderUnlock, Runnable lostLock, Runnable lostUnlock,
                            Runnable nextLock, Runnable nextUnlock) {
        void run() {
            AioContext main = MainLoop.init();
            try (IoThreads io = new IoThreads("lost-waiter", 1); CoroutineLogCapture log = new CoroutineLogCapture()) {
                Coroutine holder = Coroutine.create(() -> {
                    holderLock.run();
                    Coroutine.yield();
                    holderUnlock.run();
                });
                holder.enter();
                boolean[] lostGotIt = {false};
                Coroutine lost = Coroutine.create(() -> {
                    lostLock.run();
                    lostGotIt[0] = true;
                    lostUnlock.run();
                });
                // Entered by a BH of the IOThread: the BH returns once W has yielded inside the lock.
                io.runIn(0, () -> lost.enterIn(io.ctx(0)));
                boolean[] nextGotIt = {false};
                if (nextLock != null) {
                    Coroutine.create(() -> {
                        nextLock.run();
                        nextGotIt[0] = true;
                        nextUnlock.run();
                    }).enter(); // waits behind W
                    assertFalse(nextGotIt[0]);
                }
                io.stopAndJoin(0); // W is parked in the lock: lost with the IOThread
                holder.enter(); // H's unlock: W cannot be woken; X is queued behind H and runs when H ends
                assertFalse(lostGotIt[0]);
                assertEquals(nextLock != null, nextGotIt[0], "the waiter behind the lost one got the lock");
                assertEquals(1, log.records.size(), "reports of the lost waiter");
                LogRecord report = log.records.getFirst();
                assertEquals(Level.SEVERE, report.getLevel());
                assertTrue(report.getMessage().contains(lost + " was handed the lock but cannot be woken")
                        && report.getMessage().contains("it is closing"), report.getMessage());
            } finally {
                main.close();
            }
        }
    }
}
