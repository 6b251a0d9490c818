package io.blockloop.coroutine;

import io.blockloop.aio.AioContext;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * A mutual-exclusion lock for coroutines that may run in different {@link AioContext}s (QEMU's {@code CoMutex},
 * a lock-free design derived from OSv's {@code lfmutex}). A coroutine that must wait yields instead of blocking its
 * thread, and is handed the lock directly by the unlocker, which {@linkplain Coroutine#wake() wakes} it in its own
 * context: queued behind the unlocker in the same context (no nested enter), scheduled into another context
 * otherwise. Waiters are served in FIFO order of their arrival on the wait list. Not reentrant.
 *
 * <h2>Spinning (only when the holder runs in another context)</h2>
 * A holder in the locker's own context runs on the locker's thread and cannot progress while the locker spins,
 * so then the locker queues and yields at once. When the holder runs elsewhere the locker spins, briefly, twice:
 * <ol>
 *   <li>before queueing (as QEMU does), looking at the lock with exponential backoff and taking it if it becomes
 *       free; and</li>
 *   <li>after queueing as the first waiter (an addition to QEMU's protocol): it watches its own wait state, and an
 *       unlocker that pops a waiter still spinning <em>grants</em> it the lock with a CAS on that state instead of waking it, so a
 *       hand-off between two running threads costs one cache-line transfer instead of a schedule, a bottom half
 *       and possibly a thread wake-up. A waiter whose budget runs out CASes its state to "yielding" and yields;
 *       from then on it is woken as usual. Exactly one of the two CASes on the state wins.</li>
 * </ol>
 *
 * <h2>State</h2>
 * <ul>
 *   <li>{@code locked}: how many coroutines hold or want the lock (holder + waiters, including lockers still on
 *       their way to the wait list). Taking it from 0 to 1 is the uncontended fast path.</li>
 *   <li>{@code fromPush}: waiters push themselves here (lock-free LIFO); {@code toPop}: the FIFO the popper takes
 *       them from, refilled by reversing {@code fromPush}.</li>
 *   <li>{@code handoff}: a token an unlocker leaves when {@code locked} says someone waits but nobody is on the
 *       list yet. The locker that then pushes itself takes the token (CAS to 0) and with it the duty of handing
 *       the lock on, possibly to itself ("responsibility hand-off"). {@code sequence} makes every token unique,
 *       so an unlocker's attempt to take its own token back cannot succeed on a newer one.</li>
 *   <li>{@code ctx}: the holder's context, a hint for lockers: spinning briefly helps only when the holder runs
 *       in another context (another thread); a holder in the locker's own context cannot progress while it
 *       spins.</li>
 * </ul>
 * Only one coroutine at a time has the right to pop waiters: the unlocker (until it wakes someone or leaves a
 * token that nobody reclaims) or the locker that took a token. That right is passed through volatile
 * operations ({@code handoff} store then CAS, or the wake-up's own hand-over), so {@code toPop} and
 * {@code sequence} need no atomics of their own.
 *
 * <h2>Memory ordering</h2>
 * {@code locked}, {@code fromPush} and {@code handoff} are accessed with volatile operations. The hand-off relies
 * on their sequential consistency, Dekker style: an unlocker stores the token and then reads the wait list; a
 * locker pushes itself on the list and then reads the token; at least one of them sees the other's write, so
 * either the unlocker finds the waiter or the locker finds the token (QEMU's {@code qatomic_mb_set/mb_read}).
 * Everything the holder wrote inside the critical section happens before the next holder runs: the unlock's
 * volatile decrement pairs with the next fast-path CAS, and a hand-off goes through the volatile list/token
 * operations and then either the grant (a volatile CAS of the waiter's state, read by the spinning waiter with an
 * acquire load) or the wake-up (a scheduled-list CAS, or the same thread).
 *
 * <p>Threads: {@link #lock()} and {@link #unlock()} from coroutines only, in any context. Coroutines that use one
 * mutex from different threads must run in {@link AioContext}s (a coroutine outside every context is woken on
 * the waker's thread). {@link #isLocked()} and {@link #holder()} any thread.
 */
public final class CoMutex {
    /**
     * Spin budget, in {@link Thread#onSpinWait()} calls, before queueing when the only holder runs in another
     * context (QEMU spins 1000 iterations; here about 25 us on the test machine).
     */
    private static final int SPIN_LIMIT = 1000;
    /** Most pauses between two looks at the lock while spinning (exponential backoff from 1). */
    private static final int SPIN_MAX_BACKOFF = 256;

    private static final VarHandle LOCKED;
    private static final VarHandle HANDOFF;
    private static final VarHandle FROM_PUSH;
    private static final VarHandle TO_POP;
    private static final VarHandle CTX;
    private static final VarHandle HOLDER;
    /** {@link Coroutine#mutexWait}: the wait state of a queued coroutine. */
    private static final VarHandle WAIT_STATE;

    /** Not waiting (the state of every coroutine outside {@code waitForHandOff}). */
    private static final int NOT_WAITING = 0;
    /** Queued and spinning on its thread: an unlocker may grant it the lock by CAS. */
    private static final int SPINNING = 1;
    /** Granted the lock while spinning: it continues without being woken. */
    private static final int GRANTED = 2;
    /** Queued and yielding (or about to): it must be woken. */
    private static final int YIELDING = 3;

    static {
        try {
            MethodHandles.Lookup lookup = MethodHandles.lookup();
            LOCKED = lookup.findVarHandle(CoMutex.class, "locked", int.class);
            HANDOFF = lookup.findVarHandle(CoMutex.class, "handoff", int.class);
            FROM_PUSH = lookup.findVarHandle(CoMutex.class, "fromPush", Coroutine.class);
            TO_POP = lookup.findVarHandle(CoMutex.class, "toPop", Coroutine.class);
            CTX = lookup.findVarHandle(CoMutex.class, "ctx", AioContext.class);
            HOLDER = lookup.findVarHandle(CoMutex.class, "holder", Coroutine.class);
            WAIT_STATE = lookup.findVarHandle(Coroutine.class, "mutexWait", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    @SuppressWarnings("unused") // through LOCKED
    private int locked;
    @SuppressWarnings("unused") // through HANDOFF
    private int handoff;
    @SuppressWarnings("unused") // through FROM_PUSH
    private Coroutine fromPush;
    @SuppressWarnings("unused") // through TO_POP
    private Coroutine toPop;
    /** Last hand-off token; touched only by the coroutine that has the right to pop. */
    private int sequence;
    @SuppressWarnings("unused") // through CTX
    private AioContext ctx;
    /** The holding coroutine; written by it in lock() and cleared by it in unlock(). Through HOLDER. */
    @SuppressWarnings("unused")
    private Coroutine holder;

    /**
     * Takes the lock, yielding until it is handed over if another coroutine holds it (QEMU's
     * {@code qemu_co_mutex_lock}). Counts in the caller's {@link Coroutine#locksHeld()}. Coroutine only.
     */
    public void lock() {
        Coroutine self = Coroutine.requireSelf("CoMutex.lock");
        AioContext here = self.context();
        int seen = (int) LOCKED.compareAndExchange(this, 0, 1); // volatile CAS: pairs with unlock's decrement
        if (seen != 0) {
            // Before anything counts us as a waiter. The holder field is exact here when we are the holder (we
            // wrote it): locking again would wait for ourselves forever.
            if (HOLDER.getOpaque(this) == self) {
                throw new IllegalStateException("CoMutex.lock by " + self + ", which holds it already (not reentrant)");
            }
            seen = spinThenCount(here, seen);
        }
        if (seen == 0) {
            CTX.setOpaque(this, here); // a hint for spinners only
        } else {
            waitForHandOff(self, here);
        }
        HOLDER.setOpaque(this, self); // read by the holder itself (unlock's check) and diagnostics
        self.lockAcquired();
    }

    /**
     * Spins while one coroutine of another context holds the lock and nobody waits, retrying the fast path; then
     * counts itself in {@code locked}. Returns the count found (0: the lock is ours).
     *
     * <p>The looks at the lock back off exponentially: each look pulls the lock's cache line away from the
     * holder, and a holder that re-locks at once (a loop around a short critical section) would otherwise lose
     * the lock to the spinner every few hundred nanoseconds, paying a cache-line transfer each time. Spinning
     * stops as soon as other waiters are counted (the lock then goes to them by hand-off, not to a spinner).
     */
    private int spinThenCount(AioContext here, int seen) {
        int pauses = 1;
        int spent = 0;
        while (seen == 1 && spent < SPIN_LIMIT) {
            if (CTX.getOpaque(this) == here) {
                break; // the holder runs on this very thread: it cannot release while we spin
            }
            for (int k = 0; k < pauses; k++) {
                Thread.onSpinWait();
            }
            spent += pauses;
            pauses = Math.min(pauses << 1, SPIN_MAX_BACKOFF);
            seen = (int) LOCKED.getVolatile(this); // pairs with unlock()'s getAndAdd(-1): the holder left
            if (seen == 0) {
                seen = (int) LOCKED.compareAndExchange(this, 0, 1); // pairs with unlock's decrement, as in lock()
                if (seen == 0) {
                    return 0;
                }
            }
        }
        return (int) LOCKED.getAndAdd(this, 1); // volatile RMW: 0 means the holder left meanwhile
    }

    /**
     * The slow path: joins the wait list, takes a pending hand-off token if there is one, else waits to be handed
     * the lock: spinning for a grant while the holder runs in another context, then yielding.
     */
    private void waitForHandOff(Coroutine self, AioContext here) {
        // Spin only as the first waiter, for a holder in another context: with more waiters than cores, several
        // spinners would take the CPU from the very holder they wait for.
        boolean spin = CTX.getOpaque(this) != here && !hasWaiters();
        // Plain stores, published to poppers by the volatile CAS of the push below.
        WAIT_STATE.set(self, spin ? SPINNING : YIELDING);
        self.parkIn(this); // only this lock resumes it now: a stray enter or wake is refused
        pushWaiter(self);
        // Volatile read after the volatile push (Dekker with unlock(): token store, then hasWaiters()).
        int token = (int) HANDOFF.getVolatile(this);
        // Volatile CAS: pairs with unlock()'s token store and its own CAS taking the token back; one of them wins.
        if (token != 0 && hasWaiters() && HANDOFF.compareAndSet(this, token, 0)
                && handOffWithToken(self, here)) {
            return;
        }
        if (spin && spinUntilGranted(self, here)) {
            WAIT_STATE.set(self, NOT_WAITING); // granted: the granter is done with our state
            self.unpark();
            return; // the granter set CTX to our context
        }
        Coroutine.yield();
        // Resumed by whoever handed us the lock; it set CTX to our context already.
        WAIT_STATE.set(self, NOT_WAITING);
    }

    /**
     * The caller took the hand-off token, and with it the right to pop: hands the lock to the first waiter, and
     * returns true if that is the caller itself (it holds the lock now). A waiter that cannot be woken (its context
     * is closing) counts as having taken the lock and released it at once, and the next one is popped, as in
     * {@link #unlock()}; before, the lock stayed counted for the lost waiter and the caller, on the list behind it,
     * waited for ever. The caller is on the list and counted, so the loop ends at it at the latest.
     */
    private boolean handOffWithToken(Coroutine self, AioContext here) {
        for (;;) {
            Coroutine next = popWaiter();
            assert next != null : "a hand-off token with the caller not on the wait list";
            if (next == self) {
                WAIT_STATE.set(self, NOT_WAITING); // popped by ourselves: nobody else looks at our state
                self.unpark();
                CTX.setOpaque(this, here);
                return true;
            }
            if (wakeWaiter(next)) {
                return false;
            }
            CTX.setOpaque(this, null);
            LOCKED.getAndAdd(this, -1); // volatile RMW, as unlock()'s; the caller still counts, so it stays above 0
        }
    }

    /**
     * Spins on the caller's own wait state (a cache line nobody else writes until the grant) for the spin budget.
     * Returns true if an unlocker granted the lock; false once the state is "yielding" and the caller must yield.
     * Stops early if the holder turns out to run in the caller's context.
     */
    private boolean spinUntilGranted(Coroutine self, AioContext here) {
        int sinceLook = 0;
        int lookEvery = 1;
        for (int spent = 0; spent < SPIN_LIMIT; spent++) {
            // Acquire pairs with the granter's CAS: the previous holder's critical section is visible.
            if ((int) WAIT_STATE.getAcquire(self) == GRANTED) {
                return true;
            }
            Thread.onSpinWait();
            if (++sinceLook == lookEvery) { // look at the mutex itself rarely: its line is the holder's
                sinceLook = 0;
                lookEvery = Math.min(lookEvery << 1, SPIN_MAX_BACKOFF);
                if (CTX.getOpaque(this) == here) {
                    break; // the lock went to a coroutine of our own thread: it needs us to yield
                }
            }
        }
        // Volatile CAS: either we announce that we yield (and will be woken), or the grant came first. Pairs with
        // wakeWaiter()'s CAS SPINNING -> GRANTED on the same state: exactly one of the two wins.
        return !WAIT_STATE.compareAndSet(self, SPINNING, YIELDING);
    }

    /**
     * Releases the lock; if coroutines wait, hands it to the first one and wakes it (QEMU's
     * {@code qemu_co_mutex_unlock}). Coroutine only, the holder.
     *
     * @throws IllegalStateException if the mutex is not locked, or the caller is not its holder (checked with or
     *                               without {@code -ea}: QEMU asserts it, and without the check another coroutine
     *                               could release it and let two in)
     */
    public void unlock() {
        // The holder field names the caller (it wrote it in lock()): no lookup of the running coroutine needed.
        Coroutine self = (Coroutine) HOLDER.getOpaque(this);
        if (self == null) {
            // Between a hand-off and the new holder's resumption the holder field is empty, but the mutex is taken.
            throw new IllegalStateException("CoMutex.unlock by " + Coroutine.self() + (isLocked()
                    ? ", which does not hold it (it was handed to a waiter that has not resumed yet)"
                    : ": the mutex is not locked"));
        }
        Coroutine caller = Coroutine.self();
        if (caller != self) {
            throw new IllegalStateException("CoMutex.unlock by " + (caller == null ? "plain code" : caller)
                    + ", which does not hold it (holder: " + self + ")");
        }
        CTX.setOpaque(this, null);
        HOLDER.setOpaque(this, null);
        self.lockReleased();
        // Volatile RMW: publishes the critical section to the next fast-path CAS.
        if ((int) LOCKED.getAndAdd(this, -1) == 1) {
            return; // nobody waits
        }
        for (;;) {
            Coroutine next = popWaiter();
            if (next != null) {
                if (wakeWaiter(next)) {
                    return;
                }
                // It cannot run (its context is closing): as if it had taken the lock and released it at once. We
                // kept the right to pop, since no wake-up passed it on. Volatile RMW, as the release above.
                CTX.setOpaque(this, null);
                if ((int) LOCKED.getAndAdd(this, -1) == 1) {
                    return; // nobody else waits
                }
                continue;
            }
            // A locker has counted itself but is not on the list yet: leave it a token.
            int token = ++sequence;
            if (token == 0) {
                token = sequence = 1;
            }
            HANDOFF.setVolatile(this, token); // volatile store, then volatile reads: Dekker with waitForHandOff()
            if (!hasWaiters()) {
                return; // the locker will find the token after it pushes itself
            }
            // Pairs with waitForHandOff()'s CAS of the same token: exactly one of the two takes it.
            if (!HANDOFF.compareAndSet(this, token, 0)) {
                return; // a locker took the token: handing the lock on is its job now
            }
            // Took our token back: we still have the right to pop; the waiter is visible now.
        }
    }

    /** Whether some coroutine holds the lock (volatile read). Any thread; for assertions. */
    public boolean isLocked() {
        return (int) LOCKED.getVolatile(this) != 0;
    }

    /** The holder, or null (opaque read: exact on the holder's thread, a hint elsewhere). Any thread. */
    public Coroutine holder() {
        return (Coroutine) HOLDER.getOpaque(this);
    }

    private void pushWaiter(Coroutine self) {
        Coroutine h;
        do {
            h = (Coroutine) FROM_PUSH.getAcquire(this); // the head another pusher's CAS published; re-checked below
            self.mutexNext = h;
            // Volatile CAS publishes the link; pairs with the getAndSet in popWaiter().
        } while (!FROM_PUSH.compareAndSet(this, h, self));
    }

    /** Whether the wait list is non-empty. Volatile reads, for the Dekker pairing described in the class comment. */
    private boolean hasWaiters() {
        return TO_POP.getVolatile(this) != null || FROM_PUSH.getVolatile(this) != null;
    }

    /** Takes the oldest waiter, or null. Only the coroutine with the right to pop calls this. */
    private Coroutine popWaiter() {
        // Acquire pairs with the previous popper's release store below (the right to pop may change threads).
        Coroutine w = (Coroutine) TO_POP.getAcquire(this);
        if (w == null) {
            Coroutine stolen = (Coroutine) FROM_PUSH.getAndSet(this, (Coroutine) null); // pairs with pushWaiter's CAS
            if (stolen == null) {
                return null;
            }
            while (stolen != null) { // reverse the LIFO into arrival order
                Coroutine next = stolen.mutexNext;
                stolen.mutexNext = w;
                w = stolen;
                stolen = next;
            }
        }
        TO_POP.setRelease(this, w.mutexNext); // pairs with the next popper's getAcquire at the top of popWaiter()
        w.mutexNext = null;
        return w;
    }

    /**
     * Hands the lock to {@code next} (QEMU's {@code qemu_co_mutex_wake}): grants it if it still spins, else wakes
     * it in its context. Returns false, having reported it ({@link LostWaiters}), when {@code next} cannot be
     * woken: its context is closing.
     */
    private boolean wakeWaiter(Coroutine next) {
        // Spinners learn where the new holder runs; context() is an acquire load pairing with the enter loop.
        CTX.setOpaque(this, next.context());
        // Volatile CAS: publishes the critical section to the spinner's acquire load; loses to its own CAS
        // to YIELDING, after which it must be woken.
        if (WAIT_STATE.compareAndSet(next, SPINNING, GRANTED)) {
            return true;
        }
        try {
            next.unpark(); // the wake's hand-over publishes this to the thread that enters it
            next.wake();
            return true;
        } catch (IllegalStateException refused) {
            LostWaiters.report(this, next, refused);
            return false;
        }
    }

    @Override
    public String toString() {
        return "CoMutex[locked=" + (int) LOCKED.getVolatile(this) + ", holder=" + holder() + "]";
    }
}
