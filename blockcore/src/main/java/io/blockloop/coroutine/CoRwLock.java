package io.blockloop.coroutine;

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
 * <p>Not reentrant. {@link #readLock()} or {@link #writeLock()} by the coroutine that holds the write lock would
 * wait for itself: both throw {@link IllegalStateException} naming it, before anything is queued. A reader that
 * asks for the write lock (or, while a writer waits, for another read lock) waits for itself too, and is not
 * refused: readers are counted, not named, so the lock cannot tell it from another reader. Use {@link #upgrade()}.
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
     * Takes the lock for reading (QEMU's {@code qemu_co_rwlock_rdlock}). Coroutine only.
     *
     * @throws IllegalStateException if the caller holds the write lock (use {@link #downgrade()})
     */
    public void readLock() {
        Coroutine self = Coroutine.requireSelf("CoRwLock.readLock");
        mutex.lock();
        refuseWriter(self, "readLock");
        if (owners == 0 || (owners > 0 && ticketsHead == null)) {
            owners++;
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
     * Takes the lock for writing (QEMU's {@code qemu_co_rwlock_wrlock}). Coroutine only. A caller that holds a read
     * lock must {@link #upgrade()} instead: asking here, it would wait for itself (not detected, see the class).
     *
     * @throws IllegalStateException if the caller holds the write lock already
     */
    public void writeLock() {
        Coroutine self = Coroutine.requireSelf("CoRwLock.writeLock");
        mutex.lock();
        refuseWriter(self, "writeLock");
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
     * the readers and the writers queued before it are done. Coroutine only, holding the read lock.
     */
    public void upgrade() {
        Coroutine self = Coroutine.requireSelf("CoRwLock.upgrade");
        int heldBefore = self.locksHeld(); // read before the internal mutex, which counts in it too
        mutex.lock();
        if (owners <= 0 || heldBefore == 0) {
            int o = owners;
            mutex.unlock();
            throw new IllegalStateException("CoRwLock.upgrade by " + self + " without a read lock (owners=" + o + ")");
        }
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
        admitNextAndUnlock();
    }

    /** Releases a read or the write lock and admits whoever is next (QEMU's {@code qemu_co_rwlock_unlock}). */
    public void unlock() {
        Coroutine self = Coroutine.requireSelf("CoRwLock.unlock");
        if (self.locksHeld() == 0) { // holds no lock at all, so not this one (checked before the internal mutex)
            throw new IllegalStateException("CoRwLock.unlock by " + self + ", which holds no lock");
        }
        mutex.lock();
        if (owners > 0 && writer == null) {
            owners--;
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

    private void enqueue(Coroutine self, boolean read) {
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
     * coroutine (QEMU's {@code qemu_co_rwlock_maybe_wake_one}). Called with the internal mutex held.
     */
    private void admitNextAndUnlock() {
        Coroutine admitted = null;
        Coroutine first = ticketsHead;
        if (first != null) {
            if (first.waitsToRead ? owners >= 0 : owners == 0) {
                owners = first.waitsToRead ? owners + 1 : -1;
                writer = first.waitsToRead ? null : first;
                ticketsHead = first.waitNext;
                if (ticketsHead == null) {
                    ticketsTail = null;
                }
                first.waitNext = null;
                admitted = first;
            }
        }
        mutex.unlock();
        if (admitted != null) {
            admitted.wake();
        }
    }

    @Override
    public String toString() {
        return "CoRwLock[owners=" + owners + "]";
    }
}
