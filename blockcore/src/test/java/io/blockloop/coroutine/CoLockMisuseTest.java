package io.blockloop.coroutine;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Misuse of the coroutine locks is refused with or without {@code -ea}, before it can wedge a lock or let two
 * coroutines in (found by an audit: each of these used to hang or break mutual exclusion).
 */
class CoLockMisuseTest {

    /** Runs {@code body} in a coroutine entered from plain code, keeping what it throws. */
    private static Throwable inCoroutine(Runnable body) {
        Throwable[] thrown = new Throwable[1];
        Coroutine.create(() -> {
            try {
                body.run();
            } catch (Throwable t) {
                thrown[0] = t;
            }
        }).enter();
        return thrown[0];
    }

    /** Asserts that a coroutine takes {@code rw}'s write lock at once: it is free and no ticket is left queued. */
    private static void assertFree(CoRwLock rw) {
        boolean[] took = new boolean[1];
        assertNull(inCoroutine(() -> {
            rw.writeLock();
            took[0] = true;
            rw.unlock();
        }));
        assertTrue(took[0], rw + " is not free");
    }

    @Test
    void aCoMutexIsReleasedOnlyByItsHolder() {
        CoMutex m = new CoMutex();
        Coroutine holder = Coroutine.create(() -> {
            m.lock();
            Coroutine.yield();
            m.unlock();
        });
        holder.enter();
        Throwable stranger = inCoroutine(m::unlock);
        assertTrue(stranger instanceof IllegalStateException && stranger.getMessage().contains("does not hold it"),
                String.valueOf(stranger));
        IllegalStateException plain = assertThrows(IllegalStateException.class, m::unlock);
        assertTrue(plain.getMessage().contains("plain code"), plain.getMessage());
        assertTrue(m.isLocked());
        holder.enter(); // the holder goes on and releases it
        assertFalse(m.isLocked());
    }

    @Test
    void lockingACoMutexTwiceIsRefusedNotAHang() {
        CoMutex m = new CoMutex();
        Throwable t = inCoroutine(() -> {
            m.lock();
            try {
                m.lock();
            } finally {
                m.unlock();
            }
        });
        assertTrue(t instanceof IllegalStateException && t.getMessage().contains("not reentrant"), String.valueOf(t));
        assertFalse(m.isLocked());
    }

    @Test
    void awaitingWithACoMutexNotHeldIsRefusedBeforeQueueing() {
        CoMutex m = new CoMutex();
        CoQueue q = new CoQueue();
        Throwable t = inCoroutine(() -> q.await(m));
        assertTrue(t instanceof IllegalStateException && t.getMessage().contains("does not hold"), String.valueOf(t));
        assertTrue(q.isEmpty());
    }

    @Test
    void aCoRwLockIsReleasedOrDowngradedOnlyByAHolder() {
        CoRwLock rw = new CoRwLock();
        Coroutine writer = Coroutine.create(() -> {
            rw.writeLock();
            Coroutine.yield();
            rw.unlock();
        });
        writer.enter();
        Throwable stranger = inCoroutine(rw::unlock);
        assertTrue(stranger instanceof IllegalStateException && stranger.getMessage().contains("holds no lock"),
                String.valueOf(stranger));
        Throwable downgrade = inCoroutine(rw::downgrade);
        assertTrue(downgrade instanceof IllegalStateException, String.valueOf(downgrade));
        Throwable upgrade = inCoroutine(rw::upgrade);
        assertTrue(upgrade instanceof IllegalStateException && upgrade.getMessage().contains("without a read lock"),
                String.valueOf(upgrade));
        CoMutex other = new CoMutex();
        Throwable holdsAnotherLock = inCoroutine(() -> {
            other.lock();
            try {
                rw.unlock();
            } finally {
                other.unlock();
            }
        });
        assertTrue(holdsAnotherLock instanceof IllegalStateException
                && holdsAnotherLock.getMessage().contains("the write lock is held by"), String.valueOf(holdsAnotherLock));
        writer.enter();
        assertFree(rw);
    }

    /**
     * The writer asking for its CoRwLock again, to write or to read, queued behind itself and hung (its enter simply
     * returned, the coroutine yielded for good). Refused now, naming it, with nothing queued: the lock is free after
     * the writer's one unlock.
     */
    @Test
    void theWriterTakingItsCoRwLockAgainIsRefusedNotAHang() {
        for (String what : List.of("writeLock", "readLock")) {
            Consumer<CoRwLock> again = what.equals("writeLock") ? CoRwLock::writeLock : CoRwLock::readLock;
            CoRwLock rw = new CoRwLock();
            String[] writer = new String[1];
            int[] held = new int[1];
            Throwable t = inCoroutine(() -> {
                rw.writeLock();
                writer[0] = Coroutine.self().toString();
                try {
                    again.accept(rw);
                } finally {
                    held[0] = Coroutine.self().locksHeld();
                    rw.unlock();
                }
            });
            assertTrue(t instanceof IllegalStateException && t.getMessage().contains(writer[0])
                    && t.getMessage().contains("holds the write lock already"), what + ": " + t);
            assertEquals(1, held[0], what + ": the refused call counted no lock");
            assertFree(rw);
        }
    }

    /**
     * A reader asking for the write lock queued behind its own read lock and hung (QEMU's lock does the same). The
     * lock knows its readers now: refused, naming the caller, with nothing queued or counted.
     */
    @Test
    void aReaderAskingForTheWriteLockIsRefusedNotAHang() {
        CoRwLock rw = new CoRwLock();
        String[] reader = new String[1];
        int[] held = new int[1];
        Throwable t = inCoroutine(() -> {
            rw.readLock();
            reader[0] = Coroutine.self().toString();
            try {
                rw.writeLock();
            } finally {
                held[0] = Coroutine.self().locksHeld();
                rw.unlock();
            }
        });
        assertTrue(t instanceof IllegalStateException && t.getMessage().contains(reader[0])
                && t.getMessage().contains("holds 1 read lock(s) of it") && t.getMessage().contains("upgrade()"),
                String.valueOf(t));
        assertEquals(1, held[0], "the refused call counted no lock");
        assertFree(rw);
    }

    /**
     * A reader reading again while a writer waits queued behind that writer, which waited for the reader: both hung.
     * Now the reader is admitted at once, and the writer gets the lock after the reader's last unlock.
     */
    @Test
    void aReaderReadsAgainWhileAWriterWaits() {
        CoRwLock rw = new CoRwLock();
        List<String> log = new ArrayList<>();
        Coroutine reader = Coroutine.create(() -> {
            rw.readLock();
            Coroutine.yield();
            rw.readLock(); // a writer waits now
            log.add("read again");
            rw.unlock();
            log.add("one unlock");
            Coroutine.yield();
            rw.unlock();
        });
        Coroutine writer = Coroutine.create(() -> {
            rw.writeLock();
            log.add("writer");
            rw.unlock();
        });
        reader.enter();
        writer.enter(); // queues behind the reader
        reader.enter(); // reads again without waiting, releases one of its two read locks, yields holding one
        assertEquals(List.of("read again", "one unlock"), log, "the writer waits for the reader's last unlock");
        reader.enter(); // its last unlock admits the writer
        assertEquals(List.of("read again", "one unlock", "writer"), log);
        assertFree(rw);
    }

    /**
     * With a reader holding the lock, any coroutine that held some other lock could release the reader's read lock:
     * readers were counted, not named. Now only a reader may release a read lock, and upgrade only its own.
     */
    @Test
    void aReadLockIsReleasedOrUpgradedOnlyByItsReader() {
        CoRwLock rw = new CoRwLock();
        Coroutine reader = Coroutine.create(() -> {
            rw.readLock();
            Coroutine.yield();
            rw.unlock();
        });
        reader.enter();
        CoMutex other = new CoMutex();
        for (Runnable misuse : List.<Runnable>of(rw::unlock, rw::upgrade)) {
            Throwable t = inCoroutine(() -> {
                other.lock();
                try {
                    misuse.run();
                } finally {
                    other.unlock();
                }
            });
            assertTrue(t instanceof IllegalStateException && (t.getMessage().contains("does not hold it")
                    || t.getMessage().contains("without a read lock")), String.valueOf(t));
        }
        assertTrue(rw.toString().contains("owners=1"), rw.toString());
        reader.enter(); // the reader's own unlock still works
        assertTrue(rw.toString().contains("owners=0"), rw.toString());
    }

    /** Upgrade by a reader holding two read locks would have to give up both or wait for itself: refused. */
    @Test
    void upgradeWithTwoReadLocksIsRefused() {
        CoRwLock rw = new CoRwLock();
        Throwable t = inCoroutine(() -> {
            rw.readLock();
            rw.readLock();
            try {
                rw.upgrade();
            } finally {
                rw.unlock();
                rw.unlock();
            }
        });
        assertTrue(t instanceof IllegalStateException && t.getMessage().contains("holds 2 read locks of it"),
                String.valueOf(t));
        assertNull(inCoroutine(() -> {
            rw.readLock();
            rw.upgrade(); // one read lock: upgrades at once
            rw.unlock();
        }));
        assertTrue(rw.toString().contains("owners=0, readers=0"), rw.toString());
    }
}
