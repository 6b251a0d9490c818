package io.blockloop.coroutine;

import org.junit.jupiter.api.Test;

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
        assertEquals(null, inCoroutine(() -> { // free again
            rw.writeLock();
            rw.unlock();
        }));
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
            assertNull(inCoroutine(() -> { // free, and no ticket left queued
                rw.writeLock();
                rw.unlock();
            }));
        }
    }
}
