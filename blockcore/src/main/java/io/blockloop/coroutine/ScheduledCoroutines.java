package io.blockloop.coroutine;

import io.blockloop.aio.AioContext;
import io.blockloop.aio.BottomHalf;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * The coroutines scheduled to be entered in one {@link AioContext} (QEMU's {@code scheduled_coroutines} list
 * and {@code co_schedule_bh}): a lock-free LIFO stack that any thread pushes onto, and one bottom half of the
 * context that takes the whole stack, restores scheduling order and enters each coroutine. The list is
 * intrusive ({@link Coroutine#scheduledNext}), so scheduling allocates nothing.
 *
 * <p>Each context creates its instance in its constructor ({@link #forContext}), calls {@link #sealAndEnter()}
 * when its loop has ended for good (an IOThread's last pass) and {@link #drainForClose()} when it closes; nothing
 * else should call those three.
 *
 * <p><b>Sealing.</b> As the context's BH queue, the list is sealed when the context stops: its head becomes
 * {@link #SEALED}, a marker no push's CAS can replace. A {@link #push} therefore either links its coroutine before
 * the seal, and the seal takes it with the list (to enter it, or to report it at close), or is refused without
 * linking anything, and its scheduler undoes the "scheduled" mark and is told. A "closing" check before the push
 * is not enough: a push that passed it linked its coroutine after the last look, then the BH's schedule was
 * refused, and the close found the coroutine listed although its scheduler had been told no. The context seals
 * this list before it seals its BH queue or deletes the BH, so the BH's schedule can be refused only to a push
 * that the seal took care of; and the seal enters what it took itself instead of scheduling the BH for it, which
 * a push refused at that very moment could leave marked as queued (see {@link BottomHalf#schedule()}).
 *
 * <p>Threads: {@link #push} and {@link #isEmpty()} any thread; the BH and {@link #sealAndEnter()} the context's
 * home thread; {@link #drainForClose()} the thread closing the context. Memory ordering: {@link #push} links the
 * coroutine with a plain store and publishes it with a volatile CAS of the head; the BH takes the stack with a
 * volatile {@code getAndSet}, and so does the seal (with {@link #SEALED} as the new head); both pair with that
 * CAS, so the links and everything the scheduling thread wrote before (a request's result, the coroutine's
 * "scheduled" mark) are visible to the coroutine when it runs. The BH's own schedule/notify then guarantees the
 * loop looks at the list after the push.
 */
public final class ScheduledCoroutines {
    private static final VarHandle HEAD;

    static {
        try {
            HEAD = MethodHandles.lookup().findVarHandle(ScheduledCoroutines.class, "head", Coroutine.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** The head of a sealed list: never entered, never linked to anything, only compared with. */
    private static final Coroutine SEALED = Coroutine.marker();

    private final AioContext context;
    private final BottomHalf bottomHalf;
    /** Most recently scheduled first, or {@link #SEALED}; through HEAD. */
    @SuppressWarnings("unused")
    private Coroutine head;

    private ScheduledCoroutines(AioContext context) {
        this.context = context;
        this.bottomHalf = context.newBottomHalf("co-schedule", this::enterScheduled);
    }

    /** The schedule list of a new context; called once by {@link AioContext}'s constructor. */
    public static ScheduledCoroutines forContext(AioContext context) {
        return new ScheduledCoroutines(context);
    }

    /**
     * Adds a coroutine already marked as scheduled here and kicks the context's BH. Returns false, having linked
     * nothing, once the list is sealed: the caller still owns the coroutine and its mark. Any thread.
     */
    boolean push(Coroutine co) {
        Coroutine h;
        do {
            h = (Coroutine) HEAD.getAcquire(this); // the head another pusher's CAS published; re-checked by our CAS
            if (h == SEALED) {
                return false;
            }
            co.scheduledNext = h;
            // Volatile CAS publishes co.scheduledNext and the scheduler's earlier writes; pairs with the getAndSet
            // in enterScheduled(), sealAndEnter() and drainForClose(). It fails if the list was sealed meanwhile
            // (the head is then SEALED, which no CAS expects), and the next look sees the marker.
        } while (!HEAD.compareAndSet(this, h, co));
        try {
            bottomHalf.schedule();
        } catch (IllegalStateException bhRefused) {
            // The BH is refused only once the context has sealed its BH queue or deleted the BH, and it sealed this
            // list before either: our CAS came first, so the seal took the coroutine (and entered it, or the close
            // reports it). Accepted, then: telling the scheduler no would make it lose a listed coroutine.
        }
        return true;
    }

    /** The BH: enters every coroutine scheduled so far, oldest first. Home thread. */
    private void enterScheduled() {
        // Only the home thread seals while the loop runs this BH, so a head that is not SEALED now cannot become
        // SEALED before the swap (which would replace the marker and open the list again).
        if (HEAD.getAcquire(this) != SEALED) {
            enterAll(reverse((Coroutine) HEAD.getAndSet(this, (Coroutine) null))); // pairs with the CAS in push()
        }
    }

    /**
     * Refuses every later {@link #push} and enters, now, the coroutines pushed until then, oldest first. Home thread,
     * after the loop's last iteration and before the context seals its BH queue (what they schedule then still runs
     * in the last BH pass: {@code AioContext.runLastBottomHalves}). Idempotent.
     *
     * @throws RuntimeException what entering them threw (a misuse), after every one of them was entered
     */
    public void sealAndEnter() {
        // Volatile swap: pairs with the pushers' CAS, as the BH's does; from here on their CAS meets SEALED.
        Coroutine stolen = (Coroutine) HEAD.getAndSet(this, SEALED);
        if (stolen != SEALED) {
            enterAll(reverse(stolen));
        }
    }

    private void enterAll(Coroutine co) {
        Throwable failure = null;
        while (co != null) {
            Coroutine next = co.scheduledNext;
            co.scheduledNext = null;
            try {
                co.enterScheduled(context);
            } catch (VirtualMachineError e) {
                throw e;
            } catch (Throwable t) {
                // A misuse (e.g. it was entered meanwhile) must not lose the coroutines behind it.
                if (failure == null) {
                    failure = t;
                } else {
                    failure.addSuppressed(t);
                }
            }
            co = next;
        }
        if (failure instanceof RuntimeException e) {
            throw e;
        }
        if (failure instanceof Error e) {
            throw e;
        }
        if (failure != null) {
            throw new IllegalStateException(failure);
        }
    }

    private static Coroutine reverse(Coroutine list) {
        Coroutine reversed = null;
        while (list != null) {
            Coroutine next = list.scheduledNext;
            list.scheduledNext = reversed;
            reversed = list;
            list = next;
        }
        return reversed;
    }

    /**
     * Seals the list, deletes the BH and empties the list when the context closes. Returns null when no coroutine
     * was left, else a description for the context's error ("scheduled coroutines left: ..."), since those
     * coroutines will never run although their schedulers were told yes. The thread closing the context, after its
     * last poll.
     */
    public String drainForClose() {
        // Sealed before the BH is deleted: a push whose BH schedule meets the deletion was linked before the seal,
        // so it is in what the swap returns (see push()). Volatile swap: pairs with the CAS in push().
        Coroutine stolen = (Coroutine) HEAD.getAndSet(this, SEALED);
        bottomHalf.delete();
        Coroutine co = stolen == SEALED ? null : reverse(stolen);
        if (co == null) {
            return null;
        }
        StringBuilder left = new StringBuilder("scheduled coroutines left: ");
        int n = 0;
        while (co != null) {
            Coroutine next = co.scheduledNext;
            co.scheduledNext = null;
            left.append(n++ == 0 ? "" : ", ").append(co);
            co = next;
        }
        return left.toString();
    }

    /**
     * Whether no pushed coroutine waits for the BH (volatile read); a sealed list is empty. Any thread; for tests
     * and diagnostics.
     */
    public boolean isEmpty() {
        Object h = HEAD.getVolatile(this); // pairs with push()'s CAS and the BH's getAndSet; a snapshot only
        return h == null || h == SEALED;
    }
}
