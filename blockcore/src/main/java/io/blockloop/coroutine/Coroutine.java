package io.blockloop.coroutine;

import io.blockloop.aio.AioContext;
import io.blockloop.aio.Timer;

import java.lang.System.Logger.Level;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;

/**
 * A stackful, cooperative coroutine (QEMU's {@code Coroutine}): {@link #create} it with a body, {@link #enter()}
 * it to run the body until it {@link #yield() yields} or returns, enter it again to resume it after the yield.
 *
 * <p><b>Nesting.</b> A coroutine may enter another one; the inner coroutine's yield then returns to the outer
 * coroutine, and so on, at any depth the thread's stack allows.
 *
 * <p><b>Contexts.</b> A coroutine runs in the {@link AioContext} that enters it: {@link #enter()} records the
 * calling thread's {@link AioContext#current()} (null on a thread without one), and {@link #context()} tells
 * where it last ran. {@link #enterIn(AioContext)} enters it in a given context: directly when the caller is that
 * context's home thread, otherwise by {@linkplain #schedule(AioContext) scheduling} it there (a lock-free list
 * and one bottom half per context, FIFO, no allocation: {@link ScheduledCoroutines}). {@link #wake()} restarts
 * it in the context where it last ran; this is how a completion, a lock or a timer resumes a coroutine from any
 * thread. A coroutine moves itself with {@link #rescheduleSelf(AioContext)}.
 *
 * <p><b>Waking without nesting.</b> Entering (through {@link #wake()} or {@link #enterIn}) a coroutine of the
 * caller's own context from inside a coroutine does not nest: the coroutine is queued and the enter loop runs it
 * as soon as the current coroutine yields or terminates (QEMU's {@code co_queue_wakeup} rule), so chains of
 * wake-ups run one after the other at constant stack depth. Called from plain code, it enters directly.
 *
 * <p><b>Pooling.</b> The stack behind a coroutine never finishes: its body is a loop that runs one entry per
 * use and suspends when the entry returns. A terminated coroutine goes back to the per-thread
 * {@link CoroutinePool}, and {@link #create} hands it out again, so the I/O path allocates nothing per
 * request. Consequently a {@code Coroutine} reference is only meaningful until the coroutine terminates.
 *
 * <p><b>Failures.</b> A body that throws terminates its coroutine; the exception is reported through
 * {@link System.Logger} (logger {@code io.blockloop.coroutine.Coroutine}, level ERROR) and the coroutine is
 * discarded instead of being pooled. A coroutine must hold no coroutine lock when it terminates
 * ({@link #locksHeld()}); one that does is reported at level ERROR (and fails an assertion with {@code -ea}),
 * and is not pooled either. Entering a coroutine
 * that is already entered, that has terminated, that is queued to be woken or scheduled in a context is a bug
 * and throws an {@link IllegalStateException} saying which; so does scheduling one that is already scheduled
 * (the message says where).
 *
 * <p><b>Threads.</b> A coroutine runs on the thread that enters it, one thread at a time. {@link #create},
 * {@link #self()}, {@link #inCoroutine()}, {@link #yield()}, {@link #sleepNs}, {@link #rescheduleSelf} concern
 * the calling thread. {@link #wake()}, {@link #enterIn}, {@link #schedule} and {@link #context()} may be called
 * from any thread. {@link #enter()} runs the coroutine on the calling thread: call it on the coroutine's home
 * thread (or on any thread for a coroutine outside every context, if the hand-over is ordered, e.g. by
 * {@link Thread#start()}). {@link #entered()} and {@link #locksHeld()} are meaningful on the thread running it.
 *
 * <p><b>Memory ordering.</b> Most fields are plain: they are touched by the thread that runs or enters the
 * coroutine, and a coroutine changes threads only through an ordered hand-over (the scheduled list's volatile
 * CAS/getAndSet, a BH, a timer). Three fields are shared on purpose: {@code context}, written with a release
 * store by the enter loop before the body runs and read with acquire loads by wakers on other threads;
 * {@code scheduledIn}, set by a volatile CAS when the coroutine is scheduled and cleared with a release store
 * by the context that takes it off its list (or by the scheduler, when the context refused it unlisted); and
 * {@code runningOn}, cleared with a release store once the stack suspended, for {@link #awaitSuspended()}.
 */
public final class Coroutine {
    private static final System.Logger LOG = System.getLogger(Coroutine.class.getName());
    /** Ids for messages: an atomic counter for uniqueness only, no ordering needed. */
    private static final AtomicInteger IDS = new AtomicInteger();
    private static final VarHandle CONTEXT;
    private static final VarHandle SCHEDULED_IN;
    private static final VarHandle RUNNING_ON;

    static {
        try {
            MethodHandles.Lookup lookup = MethodHandles.lookup();
            CONTEXT = lookup.findVarHandle(Coroutine.class, "context", AioContext.class);
            SCHEDULED_IN = lookup.findVarHandle(Coroutine.class, "scheduledIn", AioContext.class);
            RUNNING_ON = lookup.findVarHandle(Coroutine.class, "runningOn", Thread.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** In a pool (or never used): may be handed out by {@link #create}. */
    private static final int FREE = 0;
    /** Created with a body, not entered yet. */
    private static final int CREATED = 1;
    /** Entered at least once and not terminated: running, waiting for a coroutine it entered, or yielded. */
    private static final int STARTED = 2;
    /** Its body returned or threw; it is in no pool (a failed or lock-holding coroutine stays here forever). */
    private static final int TERMINATED = 3;

    private final int id = IDS.incrementAndGet();
    private final ContinuationStack stack = new ContinuationStack(this, this::runUses);
    private final WakeQueue wakeQueue = new WakeQueue();

    private int state = FREE;
    private boolean entered;
    /**
     * The thread whose enter loop runs this coroutine's stack, or null once the stack is suspended (or before it first
     * ran); through RUNNING_ON: a plain store before the stack runs, a release store after it suspended, read with
     * acquire loads by {@link #awaitSuspended()} on another thread.
     */
    @SuppressWarnings("unused")
    private Thread runningOn;
    /** Set by the body loop just before it suspends at the end of a use; read by the enter loop. */
    private boolean bodyReturned;
    /** Whether the current use ended with an exception (the coroutine is then not pooled). */
    private boolean failed;
    private int locksHeld;
    /** Read locks of the block graph held (GraphLock's count); thread running it. */
    private int graphReadLocks;

    private Runnable task;
    private Consumer<Object> consumer;
    private Object argument;

    /** The context it last ran in; through CONTEXT (setRelease by the enter loop, getAcquire by wakers). */
    @SuppressWarnings("unused")
    private AioContext context;
    /** Non-null while scheduled in (or sleeping in) a context; through SCHEDULED_IN. */
    @SuppressWarnings("unused")
    private AioContext scheduledIn;
    /** Who scheduled it, for error messages only: written after winning the CAS on scheduledIn. */
    private String scheduledBy;

    /** Link of the wake list this coroutine is on (a {@link WakeQueue} or the enter loop's pending list). */
    Coroutine wakeNext;
    /** Whether this coroutine is on a wake list and not yet entered from it. */
    private boolean queued;
    /** Link of a context's scheduled list ({@link ScheduledCoroutines}). */
    Coroutine scheduledNext;
    /** Link of a {@link CoMutex}'s waiter stack/list. */
    Coroutine mutexNext;
    /** While waiting on a {@link CoMutex}: spinning, granted or yielding; accessed through CoMutex's WAIT_STATE. */
    @SuppressWarnings("unused")
    int mutexWait;
    /** Link of a {@link CoQueue} or of a {@link CoRwLock}'s ticket queue (a coroutine waits in one at a time). */
    Coroutine waitNext;
    /** On a {@link CoRwLock} ticket queue: whether it waits to read (else to write). */
    boolean waitsToRead;
    /**
     * The {@link CoMutex}, {@link CoRwLock} or {@link CoQueue} this coroutine waits in, or null. Set by the coroutine
     * before it becomes visible to the lock's wakers ({@link #parkIn}); cleared by the lock just before it wakes it,
     * or by the coroutine when it gets the lock without yielding ({@link #unpark}). While it is set, every other
     * enter, wake or schedule is refused: it would let the coroutine out of the lock beside the holder, still on the
     * lock's list. The lock's clear reaches the thread that enters the coroutine through the wake's own hand-over (a
     * release/acquire pair, or program order on one thread). A stray waker on a third thread reads it unordered, so
     * there the refusal is best effort; on the coroutine's own thread it is exact.
     */
    private Object parkedIn;

    private Coroutine() {
    }

    /** A coroutine that is never created, entered or pooled: a list's end marker ({@link ScheduledCoroutines}). */
    static Coroutine marker() {
        return new Coroutine();
    }

    // ----------------------------------------------------------------------------------------------------------
    // Creation

    /**
     * Creates a coroutine that will run {@code body} when first entered (QEMU's {@code qemu_coroutine_create}),
     * reusing a pooled one when the calling thread's pool has one. Any thread.
     *
     * @throws IllegalStateException when the JVM runs without {@value CoroutineSupport#JVM_OPTION}
     */
    public static Coroutine create(Runnable body) {
        Objects.requireNonNull(body, "body");
        Coroutine co = obtain();
        co.task = body;
        return co;
    }

    /**
     * Creates a coroutine that will run {@code body.accept(argument)}. With a non-capturing {@code body} (a
     * static method reference, say) this allocates nothing when the pool has a free coroutine. Any thread.
     */
    @SuppressWarnings("unchecked")
    public static <T> Coroutine create(Consumer<? super T> body, T argument) {
        Objects.requireNonNull(body, "body");
        Coroutine co = obtain();
        co.consumer = (Consumer<Object>) body;
        co.argument = argument;
        return co;
    }

    private static Coroutine obtain() {
        CoroutineSupport.require(); // a clear message instead of an IllegalAccessError at the first enter
        Coroutine co = CoroutinePool.ofCurrentThread().poll();
        if (co == null) {
            co = new Coroutine();
        }
        co.state = CREATED;
        co.bodyReturned = false;
        return co;
    }

    // ----------------------------------------------------------------------------------------------------------
    // Queries

    /** The coroutine the calling thread is running, or null when it runs plain code. Any thread (for itself). */
    public static Coroutine self() {
        return (Coroutine) ContinuationStack.currentOwner();
    }

    /** Whether the calling thread is running a coroutine (QEMU's {@code qemu_in_coroutine}). Any thread. */
    public static boolean inCoroutine() {
        return ContinuationStack.currentOwner() != null;
    }

    /**
     * Whether this coroutine is entered: running, or waiting for a coroutine that it entered to yield
     * (QEMU's {@code qemu_coroutine_entered}). False for a created or yielded coroutine. Thread running it.
     */
    public boolean entered() {
        return entered;
    }

    /** How many coroutine locks this coroutine holds; must be 0 when it terminates. Thread running it. */
    public int locksHeld() {
        return locksHeld;
    }

    /**
     * The context this coroutine last ran in (null if it never ran or ran outside every context). Any thread:
     * acquire load, pairs with the enter loop's release store, so a waker that got hold of this coroutine
     * after it ran sees where.
     */
    public AioContext context() {
        return (AioContext) CONTEXT.getAcquire(this);
    }

    /** The context field for the thread that wrote it (the one running this coroutine): a plain load. */
    private AioContext contextPlain() {
        return (AioContext) CONTEXT.get(this);
    }

    // ----------------------------------------------------------------------------------------------------------
    // Entering, yielding, waking

    /**
     * Runs this coroutine now, on the calling thread and in its {@link AioContext#current() context}, until it
     * yields or terminates (QEMU's {@code qemu_coroutine_enter}); then runs whatever it woke in the meantime,
     * and returns. May be called from inside another coroutine, which stays {@linkplain #entered() entered}
     * until this one yields.
     *
     * @throws IllegalStateException if this coroutine is already entered, has terminated, is queued to be woken
     *                               or is scheduled in a context
     */
    public void enter() {
        Coroutine from = self();
        // Inside a coroutine the thread's context is the one that coroutine was entered in: no thread-local.
        enterNow(from != null ? from.contextPlain() : AioContext.current());
    }

    private void enterNow(AioContext ctx) {
        checkNotParked("enter");
        if (queued) {
            throw new IllegalStateException("cannot enter " + this
                    + ": it is queued to be woken when the current coroutine yields; entering it now would run it twice");
        }
        wakeNext = null;
        runPending(this, ctx);
    }

    /**
     * Enters this coroutine in {@code ctx} (QEMU's {@code aio_co_enter}): when the caller is not {@code ctx}'s
     * home thread it is {@linkplain #schedule scheduled} there; when the caller is a coroutine of that thread it
     * is queued and runs when the caller yields or terminates; otherwise it is entered at once. A null
     * {@code ctx} means "the calling thread, whatever its context". Any thread.
     */
    public void enterIn(AioContext ctx) {
        if (ctx != null && !ctx.inHomeThread()) {
            scheduleBy(ctx, "Coroutine.enterIn");
            return;
        }
        Coroutine current = self();
        if (current != null) {
            queueBehind(current);
            return;
        }
        enterNow(ctx != null ? ctx : AioContext.current());
    }

    /**
     * Restarts this yielded coroutine in the context where it last ran (QEMU's {@code aio_co_wake}): scheduled
     * there from another thread; queued behind the current coroutine from a coroutine of that context; entered
     * at once from plain code of that context. A coroutine that never ran in a context restarts on the calling
     * thread. Waking the running coroutine itself makes it run again right after its next yield. This is the
     * hook that completes a request. Any thread.
     *
     * @throws IllegalStateException if it is already queued to be woken or scheduled (see {@link #enter()})
     */
    public void wake() {
        // Acquire pairs with the enter loop's release store: the context it last ran in, not an older one.
        enterIn((AioContext) CONTEXT.getAcquire(this));
    }

    /**
     * Gives control back to whoever entered the running coroutine (QEMU's {@code qemu_coroutine_yield}); returns
     * when the coroutine is entered again, possibly on another thread. Called from inside a coroutine.
     *
     * @throws IllegalStateException outside a coroutine, or when the stack cannot be suspended (pinned by a native
     *                               frame)
     */
    public static void yield() {
        if (ContinuationStack.currentOwner() == null) {
            throw new IllegalStateException("Coroutine.yield() called outside a coroutine");
        }
        ContinuationStack.suspend();
    }

    /**
     * Waits until this coroutine, which its enter loop may still be running on another thread, has suspended. For a
     * restart that enters it in a context other than its own: a waiter that released its queue's thread lock
     * runs on its own thread until it yields ({@link CoQueue#await(java.util.concurrent.locks.Lock)}), and entered
     * elsewhere before that, the enter failed and the waiter was lost. The wait is as long as the few instructions
     * from the release to the yield, unless that thread is descheduled in between: it spins, then yields the CPU,
     * then parks 50 µs at a time. Any thread but the one running it.
     *
     * @throws IllegalStateException when the calling thread runs it: it would wait for itself
     */
    void awaitSuspended() {
        // Acquire: pairs with the enter loop's release store of null after the stack suspended.
        Thread on = (Thread) RUNNING_ON.getAcquire(this);
        if (on == null) {
            return;
        }
        if (on == Thread.currentThread()) {
            throw new IllegalStateException("cannot wait for " + this + " to yield: the calling thread runs it");
        }
        boolean interrupted = Thread.interrupted(); // a pending interrupt would turn the parks below into a spin
        for (int spins = 0; RUNNING_ON.getAcquire(this) != null; spins++) {
            if (spins < 100) {
                Thread.onSpinWait();
            } else if (spins < 200) {
                Thread.yield();
            } else {
                LockSupport.parkNanos(50_000);
                interrupted |= Thread.interrupted();
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    private void queueBehind(Coroutine current) {
        checkNotParked("wake");
        if (queued) {
            throw new IllegalStateException("cannot wake " + this + ": it is already queued to be woken");
        }
        // Pairs with markScheduled()'s CAS and clearScheduledRelease().
        AioContext where = (AioContext) SCHEDULED_IN.getAcquire(this);
        if (where != null) {
            throw new IllegalStateException("cannot wake " + this + ": it is scheduled in context '" + where.name()
                    + "' by " + scheduledBy + " and will be entered there");
        }
        queued = true;
        current.wakeQueue.append(this);
    }

    /**
     * The enter loop (QEMU's {@code qemu_aio_coroutine_enter}): enters {@code first} in {@code ctx}, then every
     * coroutine that the entered ones woke, depth-first, each entered from this same frame so that stacks never
     * nest through wake-ups.
     */
    private static void runPending(Coroutine first, AioContext ctx) {
        Coroutine pending = first;
        while (pending != null) {
            Coroutine to = pending;
            pending = to.wakeNext;
            to.wakeNext = null;
            to.queued = false;
            to.checkEnterable();

            to.entered = true;
            to.state = STARTED;
            // Release: the context is published before the body runs and hands the coroutine to anyone (a lock,
            // an I/O request); pairs with the getAcquire in wake()/context() and in CoMutex.
            CONTEXT.setRelease(to, ctx);
            RUNNING_ON.set(to, Thread.currentThread());
            try {
                to.stack.resume();
            } catch (Throwable notSuspended) {
                to.entered = false;
                RUNNING_ON.setRelease(to, (Thread) null);
                throw notSuspended;
            }
            to.entered = false;
            pending = to.wakeQueue.drainInFrontOf(pending);
            if (to.bodyReturned) {
                RUNNING_ON.set(to, (Thread) null); // ended: nobody waits for it to suspend
                pending = withoutStaleWake(pending, to);
                to.terminate();
            } else {
                // Release, and the enter loop's last touch of it: pairs with awaitSuspended()'s acquire, after which
                // another thread may enter it (cleared before the drain above, it was entered elsewhere, ran to its
                // end and was pooled while this loop still read its fields; a review found it in session 28).
                RUNNING_ON.setRelease(to, (Thread) null);
            }
        }
    }

    /**
     * {@code pending} without {@code ended}: a coroutine that woke itself and then ended instead of yielding has
     * nothing left to run. Entering it threw "it has terminated" and dropped the coroutines behind it, which stayed
     * marked queued for good; had it been reused from the pool meanwhile, the stale wake would have entered its
     * new body. A coroutine is in the chain at most once ({@code queued}).
     */
    private static Coroutine withoutStaleWake(Coroutine pending, Coroutine ended) {
        Coroutine previous = null;
        for (Coroutine c = pending; c != null; previous = c, c = c.wakeNext) {
            if (c == ended) {
                if (previous == null) {
                    pending = c.wakeNext;
                } else {
                    previous.wakeNext = c.wakeNext;
                }
                ended.wakeNext = null;
                ended.queued = false;
                break;
            }
        }
        return pending;
    }

    private void checkEnterable() {
        if (entered) {
            throw new IllegalStateException("cannot enter " + this
                    + ": it is already entered (running, or waiting for a coroutine it entered); re-entering it recursively is a bug");
        }
        if (state != CREATED && state != STARTED) {
            throw new IllegalStateException("cannot enter " + this + ": it has terminated");
        }
        // Pairs with markScheduled()'s CAS and clearScheduledRelease().
        AioContext where = (AioContext) SCHEDULED_IN.getAcquire(this);
        if (where != null) {
            throw new IllegalStateException("cannot enter " + this + ": it is scheduled in context '" + where.name()
                    + "' by " + scheduledBy + " and will be entered there");
        }
    }

    /** Marks the running coroutine as waiting in {@code lock} (see {@code parkedIn}). The coroutine itself. */
    void parkIn(Object lock) {
        parkedIn = lock;
    }

    /**
     * Lets it be entered again: by {@code lock} just before it wakes this coroutine, or by the coroutine itself when
     * it got the lock without yielding. Package code of the locks only.
     */
    void unpark() {
        parkedIn = null;
    }

    private void checkNotParked(String action) {
        Object lock = parkedIn;
        if (lock != null) {
            throw new IllegalStateException("cannot " + action + " " + this + ": it waits in " + lock
                    + ", which alone resumes it; resuming it otherwise would let it out beside the holder");
        }
    }

    /** Called by the enter loop after the body returned: pools the coroutine unless it is broken. */
    private void terminate() {
        task = null;
        consumer = null;
        argument = null;
        state = TERMINATED;
        // Release, like every store of the context (pairs with the getAcquire in context() and wake()); a pooled
        // coroutine must not keep a closed context reachable.
        CONTEXT.setRelease(this, (AioContext) null);
        int held = locksHeld;
        int graphHeld = graphReadLocks;
        AioContext scheduledIn = (AioContext) SCHEDULED_IN.getAcquire(this); // pairs with markScheduled()'s CAS
        if (scheduledIn != null) {
            // It scheduled itself (or was scheduled) and then ended instead of yielding. Pooled, the stale entry on
            // that context's list would enter its next body, which nobody entered, on that context's thread. Kept
            // out of the pool, the entry fails there as the entering of a terminated coroutine.
            LOG.log(Level.ERROR, this + " terminated while scheduled in context '" + scheduledIn.name() + "' by "
                    + scheduledBy + ": it is not reused, and that context will fail to enter it");
            return;
        }
        if (failed || held != 0 || graphHeld != 0) {
            // Discarded: its stack stays suspended at the end of its body loop and is collected with it.
            if (held != 0 || graphHeld != 0) {
                // Said with or without -ea: without it, this was silent, and the next locker simply hung.
                LOG.log(Level.ERROR, this + " terminated holding " + held + " coroutine lock(s) and " + graphHeld
                        + " graph read lock(s): they stay taken, and whoever waits for them waits forever");
            }
            assert held == 0 : this + " terminated holding " + held + " coroutine lock(s)";
            assert graphHeld == 0 : this + " terminated holding " + graphHeld + " graph read lock(s)";
            return;
        }
        state = FREE;
        CoroutinePool.ofCurrentThread().offer(this);
    }

    /** The body of the stack: one entry per use, suspended between uses; never returns. Runs inside the stack. */
    private void runUses() {
        for (;;) {
            runOneUse();
            bodyReturned = true;
            ContinuationStack.suspend();
        }
    }

    /**
     * Runs the current body. A method of its own so that no frame alive across the suspend between uses holds the
     * body: a local of the loop kept the last body, and everything it captured, reachable while pooled.
     */
    private void runOneUse() {
        try {
            Runnable t = task;
            if (t != null) {
                t.run();
            } else {
                consumer.accept(argument);
            }
        } catch (Throwable e) {
            failed = true;
            try {
                LOG.log(Level.ERROR, this + " terminated with an exception; it will not be reused", e);
            } catch (Throwable reportFailed) {
                // E.g. a StackOverflowError again, at the same depth: the report must not escape and end the
                // continuation; the failure is kept (failed) and the coroutine is not reused.
            }
        }
    }

    // ----------------------------------------------------------------------------------------------------------
    // Scheduling across contexts

    /**
     * Schedules this coroutine to be entered in {@code ctx}'s home thread at its next loop iteration (QEMU's
     * {@code aio_co_schedule}); coroutines scheduled in one context are entered in the order they were
     * scheduled. The coroutine must not run until then: schedule it after it has yielded, or from the thread
     * running it right before it yields (the context cannot enter it before it yields if it runs there). Any
     * thread.
     *
     * @throws IllegalStateException if it is already scheduled (the message says where and by what), or if
     *                               {@code ctx} is closing ({@link AioContext#isClosing()}): nothing would enter it
     */
    public void schedule(AioContext ctx) {
        scheduleBy(ctx, "Coroutine.schedule");
    }

    void scheduleBy(AioContext ctx, String by) {
        checkNotParked("schedule");
        // Refused before the coroutine is marked and listed: refused later, by the list's BH, it would stay listed,
        // and the context's close would report it as left behind although its scheduler was told. The check is
        // the cheap answer; the list's seal is the guarantee, for a context that starts closing right after it.
        if (ctx.isClosing()) {
            throw closing(ctx);
        }
        markScheduled(ctx, by);
        if (!ctx.scheduledCoroutines().push(this)) {
            clearScheduledRelease(); // sealed meanwhile: nothing was linked, so the mark is still ours to drop
            throw closing(ctx);
        }
    }

    private IllegalStateException closing(AioContext ctx) {
        return new IllegalStateException("cannot schedule " + this + " in context '" + ctx.name() + "': it is closing");
    }

    /** Claims the "scheduled" mark for {@code ctx}, or explains who holds it. Any thread. */
    private void markScheduled(AioContext ctx, String by) {
        Objects.requireNonNull(ctx, "ctx");
        // Volatile CAS: exactly one scheduler wins; pairs with clearScheduledRelease() of the previous round.
        AioContext previous = (AioContext) SCHEDULED_IN.compareAndExchange(this, (AioContext) null, ctx);
        if (previous != null) {
            throw new IllegalStateException("cannot schedule " + this + " in context '" + ctx.name()
                    + "': it was already scheduled in context '" + previous.name() + "' by " + scheduledBy);
        }
        scheduledBy = by;
    }

    /**
     * Drops the "scheduled" mark: just before the context enters the coroutine (home thread of that context), or
     * when the context refused it before it was listed (the thread that marked it).
     */
    void clearScheduledRelease() {
        // Release: whatever this thread did before is visible to the next scheduler that wins the CAS.
        SCHEDULED_IN.setRelease(this, (AioContext) null);
    }

    /** Entered by {@link ScheduledCoroutines} (or a sleep timer) in its context's home thread. */
    void enterScheduled(AioContext ctx) {
        clearScheduledRelease();
        Coroutine current = self();
        if (current != null) {
            queueBehind(current); // a BH run by a nested poll inside a coroutine: do not nest
            return;
        }
        enterNow(ctx);
    }

    /**
     * Moves the running coroutine to {@code newCtx} (QEMU's {@code aio_co_reschedule_self}) and returns there.
     * It is marked scheduled at once, handed to {@code newCtx} by a one-shot BH of its current context (which
     * runs only after it yielded, so the new context cannot enter it early), and then yields. A no-op when it
     * already runs in {@code newCtx}. Called from inside a coroutine that runs in a context.
     *
     * @throws IllegalStateException if {@code newCtx} is closing ({@link AioContext#isClosing()}), checked first
     *                               and again by the hand-over (the coroutine then throws from its current
     *                               context, no longer marked), or if its current context refuses the hand-over BH
     */
    public static void rescheduleSelf(AioContext newCtx) {
        Objects.requireNonNull(newCtx, "newCtx");
        Coroutine self = requireSelf("Coroutine.rescheduleSelf");
        // Its own field, written by the enter loop that runs it (on this thread): acquire only as every read of it.
        AioContext old = (AioContext) CONTEXT.getAcquire(self);
        if (old == newCtx) {
            return;
        }
        // Trust the coroutine's own context, not the thread: after the coroutine moved, compiled code may reuse a
        // Thread.currentThread() read from before the move (io.blockloop.block.graph's package documentation),
        // so old.inHomeThread() could fail here although the coroutine does run in old.
        if (old == null) {
            throw new IllegalStateException("Coroutine.rescheduleSelf: " + self
                    + " does not run in an AioContext, so nothing can hand it over safely");
        }
        if (newCtx.isClosing()) { // as scheduleBy: the cheap answer before the mark; the hand-over's push decides
            throw self.closing(newCtx);
        }
        self.markScheduled(newCtx, "Coroutine.rescheduleSelf");
        // Written by the BH before it resumes us, on old's home thread (this coroutine's thread): no ordering needed.
        boolean[] refused = {false};
        try {
            old.scheduleOneShot("co-reschedule-self", () -> {
                if (!newCtx.scheduledCoroutines().push(self)) {
                    // newCtx began closing after the check above; nothing was linked, so the coroutine is still
                    // ours: resume it here, where it yielded (which also drops the mark), and let it throw.
                    refused[0] = true;
                    self.enterScheduled(old);
                }
            });
        } catch (IllegalStateException oldClosed) {
            self.clearScheduledRelease(); // nothing will hand it over: not scheduled anywhere
            throw oldClosed;
        }
        Coroutine.yield();
        if (refused[0]) {
            throw self.closing(newCtx);
        }
    }

    /**
     * Suspends the running coroutine for at least {@code ns} nanoseconds on its context's clock (QEMU's
     * {@code qemu_co_sleep_ns}): a timer of that context wakes it. While it sleeps it counts as scheduled, so a
     * stray wake-up fails loudly instead of cutting the sleep short. Called from inside a coroutine that runs in a
     * context.
     */
    public static void sleepNs(long ns) {
        Coroutine self = requireSelf("Coroutine.sleepNs");
        // Its own field, written by the enter loop that runs it (on this thread): acquire only as every read of it.
        AioContext ctx = (AioContext) CONTEXT.getAcquire(self);
        if (ctx == null) { // not ctx.inHomeThread(): see rescheduleSelf on stale thread identities
            throw new IllegalStateException("Coroutine.sleepNs: " + self + " does not run in an AioContext");
        }
        self.markScheduled(ctx, "Coroutine.sleepNs");
        Timer timer;
        try {
            timer = ctx.newTimer("co-sleep", () -> self.enterScheduled(ctx));
            try {
                timer.modAfterNs(ns);
            } catch (RuntimeException | Error e) {
                timer.delete();
                throw e;
            }
        } catch (RuntimeException | Error e) {
            // Refused (a closing context): not scheduled anywhere, or every later wake and enter was refused.
            self.clearScheduledRelease();
            throw e;
        }
        Coroutine.yield();
        timer.delete();
    }

    static Coroutine requireSelf(String what) {
        Coroutine self = self();
        if (self == null) {
            throw new IllegalStateException(what + " called outside a coroutine");
        }
        return self;
    }

    // ----------------------------------------------------------------------------------------------------------
    // Lock accounting (coroutine locks of this package)

    /** Counts a coroutine lock taken by this coroutine. Thread running it. */
    void lockAcquired() {
        locksHeld++;
    }

    /** Counts a coroutine lock released by this coroutine. Thread running it. */
    void lockReleased() {
        assert locksHeld > 0 : this + " released a coroutine lock it does not hold";
        locksHeld--;
    }

    /**
     * How many block-graph read locks this coroutine holds, as counted by {@code GraphLock} (whose readers are
     * coroutines; the count lives here so that an unlock without a lock can be refused at no shared cost, and a
     * coroutine that ends holding one is caught with {@code -ea}). Thread running it.
     */
    public int graphReadLocks() {
        return graphReadLocks;
    }

    /** {@code GraphLock}'s bookkeeping: one more read lock held. Thread running it. */
    public void graphReadLocked() {
        graphReadLocks++;
    }

    /**
     * {@code GraphLock}'s bookkeeping: one read lock less. Returns false, changing nothing, when this coroutine
     * holds none. Thread running it.
     */
    public boolean graphReadUnlocked() {
        if (graphReadLocks == 0) {
            return false;
        }
        graphReadLocks--;
        return true;
    }

    @Override
    public String toString() {
        String s = switch (state) {
            case FREE -> "free";
            case CREATED -> "created";
            case STARTED -> entered ? "entered" : "yielded";
            default -> failed ? "terminated (failed)" : "terminated";
        };
        // Not "+" concatenation: its invokedynamic is linked at the first call, and when that call came at a stack
        // overflow (a coroutine's failure report at the limit) the linkage error stayed cached for the JVM's life,
        // and every later toString, and every message built with it, threw BootstrapMethodError.
        return new StringBuilder(24).append("Coroutine#").append(id).append('[').append(s).append(']').toString();
    }
}
