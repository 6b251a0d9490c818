package io.blockloop.coroutine;

import java.util.Arrays;

/**
 * A fair reader/writer lock for coroutines (QEMU's {@code CoRwlock} since 6.1, ticket based). Coroutines that
 * cannot take the lock at once join one FIFO of tickets, each marked "read" or "write", and are admitted in
 * that order: a reader is admitted when the lock is free or held by readers, a writer when it is free. A new
 * reader does not overtake a queued writer, so writers cannot starve. An admitted reader admits the reader
 * queued right behind it, so a run of readers enters together.
 *
 * <p>{@link #upgrade()} turns the caller's read lock into a write lock: at once if it is the only reader and
 * nobody waits, otherwise it gives up its read lock, queues a write ticket and waits its turn (a writer that was
 * already waiting goes first). {@link #downgrade()} turns the write lock into a read lock and admits waiting
 * readers.
 *
 * <p>Admission wakes the admitted coroutine with {@link Coroutine#wake()}: queued behind the caller in the same
 * context (never entered from inside it), scheduled in another context otherwise.
 *
 * <p>The lock knows its readers by name, so a coroutine never waits for itself:
 * <ul>
 *   <li>a reader may take the read lock again: it is admitted at once, also while a writer waits (the writer
 *       waits for it anyway), and releases it once per {@link #readLock()} (QEMU's lock queues it behind that
 *       writer, which waits for it: both hang);</li>
 *   <li>{@link #writeLock()} by a reader, and {@link #readLock()} or {@link #writeLock()} by the writer, throw
 *       {@link IllegalStateException} naming the caller, before anything is queued (use {@link #upgrade()} or
 *       {@link #downgrade()});</li>
 *   <li>{@link #unlock()}, {@link #upgrade()} and {@link #downgrade()} by a coroutine that does not hold the lock
 *       in that mode throw, and change nothing.</li>
 * </ul>
 *
 * <p>Threads: every method from coroutines only, in any context (see {@link CoMutex} for the cross-thread
 * rule). Memory ordering: {@code owners} and the ticket queue are plain fields guarded by an internal
 * {@link CoMutex}, whose hand-over orders them; a coroutine admitted by another one is handed its admission
 * through {@link Coroutine#wake()}, whose hand-over happens after the admitting coroutine's writes.
 */
public final class CoRwLock {
    private final CoMutex mutex = new CoMutex();
    /** Readers holding the lock (&gt; 0), -1 for a writer, 0 when free. Guarded by {@code mutex}. */
    private int owners;
    /** The ticket queue, linked through {@link Coroutine#waitNext}. Guarded by {@code mutex}. */
    private Coroutine ticketsHead;
    private Coroutine ticketsTail;
    /** The writer while {@code owners == -1}. Guarded by {@code mutex}. */
    private Coroutine writer;
    /**
     * The readers while {@code owners > 0}, in {@code [0, readerCount)}, each with how many read locks it holds
     * ({@code holds}, summing to {@code owners}). A few at a time, so a linear search. Guarded by {@code mutex}.
     */
    private Coroutine[] readers = new Coroutine[4];
    private int[] holds = new int[4];
    private int readerCount;

    /**
     * Takes the lock for reading (QEMU's {@code qemu_co_rwlock_rdlock}); a reader asking again is admitted at once.
     * Coroutine only.
     *
     * @throws IllegalStateException if the caller holds the write lock (use {@link #downgrade()})
     */
    public void readLock() {
        Coroutine self = Coroutine.requireSelf("CoRwLock.readLock");
        mutex.lock();
        refuseWriter(self, "readLock");
        if (owners == 0 || (owners > 0 && (ticketsHead == null || indexOfReader(self) >= 0))) {
            owners++;
            addReader(self);
            mutex.unlock();
        } else {
            enqueue(self, true);
            mutex.unlock();
            Coroutine.yield();
            // Admitted (owners already counts us): admit the next reader in line, if any.
            mutex.lock();
            admitNextAndUnlock();
        }
        self.lockAcquired();
    }

    /**
     * Takes the lock for writing (QEMU's {@code qemu_co_rwlock_wrlock}). Coroutine only.
     *
     * @throws IllegalStateException if the caller holds the lock already: the write lock, or a read lock (it would
     *         wait for itself; use {@link #upgrade()})
     */
    public void writeLock() {
        Coroutine self = Coroutine.requireSelf("CoRwLock.writeLock");
        mutex.lock();
        refuseWriter(self, "writeLock");
        int reads = readsHeldBy(self);
        if (reads > 0) {
            mutex.unlock();
            throw new IllegalStateException("CoRwLock.writeLock by " + self + ", which holds " + reads
                    + " read lock(s) of it: it would wait for itself (use upgrade())");
        }
        if (owners == 0) {
            owners = -1;
            writer = self;
            mutex.unlock();
        } else {
            enqueue(self, false);
            mutex.unlock();
            Coroutine.yield();
            // Admitted: owners == -1 was set for us.
        }
        self.lockAcquired();
    }

    /**
     * Turns the caller's read lock into the write lock (QEMU's {@code qemu_co_rwlock_upgrade}); may yield until
     * the readers and the writers queued before it are done. Coroutine only, holding exactly one read lock of it
     * (with more, the others would have to go with it, or it would wait for itself).
     */
    public void upgrade() {
        Coroutine self = Coroutine.requireSelf("CoRwLock.upgrade");
        mutex.lock();
        int reads = readsHeldBy(self);
        if (reads != 1) {
            int o = owners;
            mutex.unlock();
            throw new IllegalStateException("CoRwLock.upgrade by " + self + (reads == 0
                    ? " without a read lock (owners=" + o + ")"
                    : ", which holds " + reads + " read locks of it: upgrade turns exactly one into the write lock"));
        }
        removeReader(self);
        if (owners == 1 && ticketsHead == null) {
            owners = -1;
            writer = self;
            mutex.unlock();
            return;
        }
        // Fairness: others wait, so take a write ticket behind them and give up the read lock meanwhile.
        enqueue(self, false);
        owners--;
        admitNextAndUnlock();
        Coroutine.yield();
    }

    /**
     * Turns the caller's write lock into a read lock and admits the readers queued first in line (QEMU's
     * {@code qemu_co_rwlock_downgrade}). Coroutine only, holding the write lock.
     */
    public void downgrade() {
        Coroutine self = Coroutine.requireSelf("CoRwLock.downgrade");
        mutex.lock();
        if (owners != -1 || writer != self) {
            int o = owners;
            mutex.unlock();
            throw new IllegalStateException("CoRwLock.downgrade by " + self + " without the write lock (owners=" + o + ")");
        }
        owners = 1;
        writer = null;
        addReader(self);
        admitNextAndUnlock();
    }

    /** Releases a read or the write lock and admits whoever is next (QEMU's {@code qemu_co_rwlock_unlock}). */
    public void unlock() {
        Coroutine self = Coroutine.requireSelf("CoRwLock.unlock");
        if (self.locksHeld() == 0) { // holds no lock at all, so not this one (checked before the internal mutex)
            throw new IllegalStateException("CoRwLock.unlock by " + self + ", which holds no lock");
        }
        mutex.lock();
        if (owners > 0 && removeReader(self)) {
            owners--;
        } else if (owners > 0) {
            int o = owners;
            mutex.unlock();
            throw new IllegalStateException("CoRwLock.unlock by " + self + ", which does not hold it (" + o
                    + " read lock(s) held by others)");
        } else if (owners == -1 && writer == self) {
            owners = 0;
            writer = null;
        } else if (owners == -1) {
            Coroutine w = writer;
            mutex.unlock();
            throw new IllegalStateException("CoRwLock.unlock by " + self + ": the write lock is held by " + w);
        } else {
            mutex.unlock();
            throw new IllegalStateException("CoRwLock.unlock by " + self + ": the lock is not held");
        }
        self.lockReleased();
        admitNextAndUnlock();
    }

    /**
     * Throws, releasing the internal mutex, if {@code self} holds the write lock: it would queue behind itself and
     * wait forever. Called with the internal mutex held, before anything is queued or counted.
     */
    private void refuseWriter(Coroutine self, String what) {
        if (owners == -1 && writer == self) {
            mutex.unlock();
            throw new IllegalStateException("CoRwLock." + what + " by " + self
                    + ", which holds the write lock already (not reentrant)");
        }
    }

    /** Where {@code c} is in {@code readers}, or -1. Internal mutex held. */
    private int indexOfReader(Coroutine c) {
        for (int i = 0; i < readerCount; i++) {
            if (readers[i] == c) {
                return i;
            }
        }
        return -1;
    }

    /** How many read locks {@code c} holds. Internal mutex held. */
    private int readsHeldBy(Coroutine c) {
        int i = indexOfReader(c);
        return i < 0 ? 0 : holds[i];
    }

    /** Counts one more read lock of {@code c} (the caller counts it in {@code owners}). Internal mutex held. */
    private void addReader(Coroutine c) {
        int i = indexOfReader(c);
        if (i >= 0) {
            holds[i]++;
            return;
        }
        if (readerCount == readers.length) {
            readers = Arrays.copyOf(readers, readerCount * 2);
            holds = Arrays.copyOf(holds, readerCount * 2);
        }
        readers[readerCount] = c;
        holds[readerCount++] = 1;
    }

    /** Takes one read lock of {@code c} off the list; false if it holds none. Internal mutex held. */
    private boolean removeReader(Coroutine c) {
        int i = indexOfReader(c);
        if (i < 0) {
            return false;
        }
        if (--holds[i] == 0) {
            readerCount--;
            readers[i] = readers[readerCount];
            holds[i] = holds[readerCount];
            readers[readerCount] = null; // a finished coroutine must not stay reachable from the lock
        }
        return true;
    }

    private void enqueue(Coroutine self, boolean read) {
        self.parkIn(this); // only this lock resumes it now: a stray enter or wake is refused
        self.waitsToRead = read;
        self.waitNext = null;
        if (ticketsTail == null) {
            ticketsHead = self;
        } else {
            ticketsTail.waitNext = self;
        }
        ticketsTail = self;
    }

    /**
     * Admits the first ticket if the lock's state allows it, releases the internal mutex, then wakes the admitted
     * coroutine (QEMU's {@code qemu_co_rwlock_maybe_wake_one}). An admitted coroutine that cannot be woken (its
     * context is closing) is reported ({@link LostWaiters}) and its admission taken back, and the next ticket is
     * tried. Called with the internal mutex held.
     */
    private void admitNextAndUnlock() {
        for (;;) {
            Coroutine admitted = admitFirst();
            mutex.unlock();
            if (admitted == null) {
                return;
            }
            try {
                admitted.unpark(); // the wake's hand-over publishes this to the thread that enters it
                admitted.wake();
                return;
            } catch (IllegalStateException refused) {
                LostWaiters.report(this, admitted, refused);
                mutex.lock();
                if (admitted.waitsToRead) {
                    owners--;
                    removeReader(admitted);
                } else {
                    owners = 0;
                    writer = null;
                }
            }
        }
    }

    /** Takes the first ticket off the queue and counts it as holding the lock, if its mode fits; else null. */
    private Coroutine admitFirst() {
        Coroutine first = ticketsHead;
        if (first == null || !(first.waitsToRead ? owners >= 0 : owners == 0)) {
            return null;
        }
        owners = first.waitsToRead ? owners + 1 : -1;
        writer = first.waitsToRead ? null : first;
        if (first.waitsToRead) {
            addReader(first);
        }
        ticketsHead = first.waitNext;
        if (ticketsHead == null) {
            ticketsTail = null;
        }
        first.waitNext = null;
        return first;
    }

    @Override
    public String toString() {
        return "CoRwLock[owners=" + owners + ", readers=" + readerCount + "]";
    }
}
