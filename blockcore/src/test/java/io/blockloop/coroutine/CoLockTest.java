package io.blockloop.coroutine;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Coroutine locks in one thread (QEMU's test-coroutine.c "/locking/*"): the unlock queues the next holder, which
 * runs when the unlocker yields or terminates; CoRwLock upgrade and downgrade; CoQueue; lock accounting.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class CoLockTest {

    /** /locking/co-mutex: two coroutines contend; the waiter gets the lock after the holder's unlock. */
    @Test
    void coMutexHandsTheLockToTheWaiterWhenTheHolderYields() {
        CoMutex mutex = new CoMutex();
        boolean[] locked = {false};
        int[] done = {0};
        Runnable body = () -> {
            mutex.lock();
            assertFalse(locked[0], "two holders at once");
            locked[0] = true;
            Coroutine.yield();
            locked[0] = false;
            mutex.unlock();
            done[0]++;
        };
        Coroutine c1 = Coroutine.create(body);
        Coroutine c2 = Coroutine.create(body);
        c1.enter();
        assertTrue(locked[0]);
        assertTrue(mutex.isLocked());
        c2.enter(); // waits for the lock
        assertFalse(c2.entered());
        // c1 unlocks, which queues c2; c2 runs (and takes the lock) when c1 terminates.
        c1.enter();
        assertEquals(1, done[0]);
        assertTrue(locked[0]);
        assertSame(c2, mutex.holder());
        c2.enter();
        assertEquals(2, done[0]);
        assertFalse(locked[0]);
        assertFalse(mutex.isLocked());
    }

    /** Many waiters on one thread are served in arrival order, each exactly once. */
    @Test
    void coMutexServesWaitersInArrivalOrder() {
        CoMutex mutex = new CoMutex();
        List<Integer> order = new ArrayList<>();
        Coroutine holder = Coroutine.create(() -> {
            mutex.lock();
            Coroutine.yield();
            mutex.unlock();
        });
        holder.enter();
        for (int i = 0; i < 10; i++) {
            int k = i;
            Coroutine.create(() -> {
                mutex.lock();
                order.add(k);
                mutex.unlock();
            }).enter();
        }
        assertTrue(order.isEmpty());
        holder.enter();
        assertEquals(List.of(0, 1, 2, 3, 4, 5, 6, 7, 8, 9), order);
        assertFalse(mutex.isLocked());
    }

    @Test
    void unlockingAMutexThatIsNotLockedIsAnError() {
        CoMutex mutex = new CoMutex();
        IllegalStateException[] e = new IllegalStateException[1];
        Coroutine.create(() -> e[0] = assertThrows(IllegalStateException.class, mutex::unlock)).enter();
        assertTrue(e[0].getMessage().contains("not locked"), e[0].getMessage());
        assertThrows(IllegalStateException.class, mutex::lock, "outside a coroutine");
    }

    @Test
    void locksHeldCountsCoroutineLocks() {
        CoMutex mutex = new CoMutex();
        CoRwLock rw = new CoRwLock();
        int[] seen = new int[4];
        Coroutine.create(() -> {
            Coroutine self = Coroutine.self();
            mutex.lock();
            seen[0] = self.locksHeld();
            rw.readLock();
            seen[1] = self.locksHeld();
            rw.upgrade();
            seen[2] = self.locksHeld();
            rw.unlock();
            mutex.unlock();
            seen[3] = self.locksHeld();
        }).enter();
        assertEquals(1, seen[0]);
        assertEquals(2, seen[1]);
        assertEquals(2, seen[2], "upgrade keeps one lock");
        assertEquals(0, seen[3]);
    }

    @Test
    void terminatingWhileHoldingACoMutexFailsTheAssertion() {
        CoMutex mutex = new CoMutex();
        Coroutine[] holder = new Coroutine[1];
        Coroutine co = Coroutine.create(() -> {
            holder[0] = Coroutine.self();
            mutex.lock();
        });
        AssertionError e = assertThrows(AssertionError.class, co::enter);
        assertTrue(e.getMessage().contains("terminated holding 1 coroutine lock"), e.getMessage());
        Coroutine next = Coroutine.create(() -> { });
        assertNotSame(holder[0], next, "a coroutine that died holding a lock is not reused");
        next.enter();
    }

    /**
     * /locking/co-rwlock/upgrade: a sole reader upgrades while a writer is queued; it goes back to the queue, the
     * writer runs first, then the upgrade completes.
     */
    @Test
    void upgradeWaitsBehindAQueuedWriter() {
        CoRwLock rw = new CoRwLock();
        boolean[] upgraderDone = {false};
        boolean[] writerDone = {false};
        Coroutine upgrader = Coroutine.create(() -> {
            rw.readLock();
            Coroutine.yield();
            rw.upgrade();
            rw.unlock();
            upgraderDone[0] = true;
        });
        Coroutine writer = Coroutine.create(() -> {
            rw.writeLock();
            Coroutine.yield();
            rw.unlock();
            writerDone[0] = true;
        });
        upgrader.enter(); // reads, yields
        writer.enter(); // queues behind the reader
        upgrader.enter(); // upgrade: gives up its read lock, the writer gets the lock and yields holding it
        assertFalse(upgraderDone[0], "the upgrade waits for the writer");
        assertFalse(writerDone[0]);
        writer.enter(); // the writer unlocks: the upgrader gets the write lock and finishes
        assertTrue(writerDone[0]);
        assertTrue(upgraderDone[0]);
    }

    /** An upgrade by the only reader with nobody waiting is immediate; a writer then waits for it. */
    @Test
    void upgradeOfTheSoleReaderIsImmediate() {
        CoRwLock rw = new CoRwLock();
        List<String> log = new ArrayList<>();
        Coroutine upgrader = Coroutine.create(() -> {
            rw.readLock();
            rw.upgrade();
            log.add("upgraded");
            Coroutine.yield();
            rw.unlock();
        });
        upgrader.enter();
        Coroutine reader = Coroutine.create(() -> {
            rw.readLock();
            log.add("reader");
            rw.unlock();
        });
        reader.enter();
        assertEquals(List.of("upgraded"), log, "a reader waits while the upgraded writer holds the lock");
        upgrader.enter();
        assertEquals(List.of("upgraded", "reader"), log);
    }

    /**
     * /locking/co-rwlock/downgrade: a reader holds the lock; a writer, a reader and another writer queue up. The
     * reader leaves; the first writer gets the lock and downgrades, which admits the queued reader; after both
     * readers leave, the last writer runs. Nobody hangs.
     */
    @Test
    void downgradeAdmitsTheQueuedReaderAndTheLastWriterStillRuns() {
        CoRwLock rw = new CoRwLock();
        List<String> log = new ArrayList<>();
        Coroutine firstReader = Coroutine.create(() -> {
            rw.readLock();
            Coroutine.yield();
            rw.unlock();
            Coroutine.yield();
            log.add("first reader done");
        });
        Coroutine downgrader = Coroutine.create(() -> {
            rw.writeLock();
            log.add("writer got the lock");
            rw.downgrade();
            rw.unlock();
            log.add("downgrader done");
        });
        Coroutine reader = Coroutine.create(() -> {
            rw.readLock();
            log.add("reader got the lock");
            rw.unlock();
            log.add("reader done");
        });
        Coroutine lastWriter = Coroutine.create(() -> {
            rw.writeLock();
            log.add("last writer got the lock");
            rw.unlock();
            log.add("last writer done");
        });
        firstReader.enter();
        downgrader.enter();
        reader.enter();
        lastWriter.enter();
        assertTrue(log.isEmpty(), "everybody queued behind the first reader: " + log);
        firstReader.enter();
        assertEquals(List.of("writer got the lock", "downgrader done", "reader got the lock", "reader done",
                "last writer got the lock", "last writer done"), log);
        firstReader.enter();
        assertEquals("first reader done", log.get(log.size() - 1));
    }

    /** Readers that queue behind a writer are admitted together when it leaves (the cascade). */
    @Test
    void queuedReadersAreAdmittedTogether() {
        CoRwLock rw = new CoRwLock();
        int[] readersInside = {0};
        int[] maxInside = {0};
        Coroutine writer = Coroutine.create(() -> {
            rw.writeLock();
            Coroutine.yield();
            rw.unlock();
        });
        writer.enter();
        Coroutine[] readers = new Coroutine[4];
        for (int i = 0; i < readers.length; i++) {
            readers[i] = Coroutine.create(() -> {
                rw.readLock();
                readersInside[0]++;
                maxInside[0] = Math.max(maxInside[0], readersInside[0]);
                Coroutine.yield();
                readersInside[0]--;
                rw.unlock();
            });
            readers[i].enter();
        }
        assertEquals(0, readersInside[0]);
        writer.enter();
        assertEquals(4, readersInside[0], "all four readers hold the lock at once");
        for (Coroutine r : readers) {
            r.enter();
        }
        assertEquals(0, readersInside[0]);
        assertEquals(4, maxInside[0]);
    }

    /** CoQueue: waiters restart in FIFO order, under a CoMutex that await releases and takes back. */
    @Test
    void coQueueRestartsWaitersInOrderAndRetakesTheMutex() {
        CoMutex mutex = new CoMutex();
        CoQueue queue = new CoQueue();
        List<Integer> order = new ArrayList<>();
        boolean[] ready = {false};
        for (int i = 0; i < 3; i++) {
            int k = i;
            Coroutine.create(() -> {
                mutex.lock();
                while (!ready[0]) {
                    queue.await(mutex);
                }
                assertSame(Coroutine.self(), mutex.holder(), "await takes the mutex back");
                order.add(k);
                mutex.unlock();
            }).enter();
        }
        assertFalse(queue.isEmpty());
        assertFalse(mutex.isLocked(), "waiters released the mutex");
        Coroutine.create(() -> {
            mutex.lock();
            ready[0] = true;
            assertTrue(queue.next());
            queue.restartAll();
            assertFalse(queue.next());
            mutex.unlock();
        }).enter();
        assertEquals(List.of(0, 1, 2), order);
        assertTrue(queue.isEmpty());
        assertFalse(mutex.isLocked());
    }

    /** restartAll from plain code: a waiter that waits again is not restarted twice by the same call. */
    @Test
    void restartAllFromPlainCodeRestartsEachWaiterOnce() {
        CoQueue queue = new CoQueue();
        int[] wakeups = {0};
        Coroutine co = Coroutine.create(() -> {
            for (;;) {
                queue.await();
                wakeups[0]++;
            }
        });
        co.enter();
        queue.restartAll();
        assertEquals(1, wakeups[0]);
        queue.restartAll();
        assertEquals(2, wakeups[0]);
        assertNull(Coroutine.self());
    }
}
