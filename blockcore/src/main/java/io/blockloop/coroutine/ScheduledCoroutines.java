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
 * <p>Each context creates its instance in its constructor ({@link #forContext}) and calls {@link #drainForClose()}
 * when it closes; nothing else should call those two.
 *
 * <p>Threads: {@link #push} any thread; the BH runs on the context's home thread; {@link #drainForClose()} the
 * thread closing the context. Memory ordering: {@link #push} links the coroutine with a plain store and
 * publishes it with a volatile CAS of the head; the BH takes the stack with a volatile {@code getAndSet}, which
 * pairs with that CAS, so the links and everything the scheduling thread wrote before (a request's result, the
 * coroutine's "scheduled" mark) are visible to the coroutine when it runs. The BH's own schedule/notify then
 * guarantees the loop looks at the list after the push.
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

    private final AioContext context;
    private final BottomHalf bottomHalf;
    /** Most recently scheduled first; through HEAD. */
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

    /** Adds a coroutine already marked as scheduled here and kicks the context's BH. Any thread. */
    void push(Coroutine co) {
        Coroutine h;
        do {
            h = (Coroutine) HEAD.getAcquire(this); // the head another pusher's CAS published; re-checked by our CAS
            co.scheduledNext = h;
            // Volatile CAS publishes co.scheduledNext and the scheduler's earlier writes; pairs with the
            // getAndSet in enterScheduled().
        } while (!HEAD.compareAndSet(this, h, co));
        bottomHalf.schedule();
    }

    /** The BH: enters every coroutine scheduled so far, oldest first. Home thread. */
    private void enterScheduled() {
        Coroutine co = reverse((Coroutine) HEAD.getAndSet(this, (Coroutine) null)); // pairs with the CAS in push()
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
     * Deletes the BH and empties the list when the context closes. Returns null when no coroutine was left, else
     * a description for the context's error ("scheduled coroutines left: ..."), since those coroutines will never
     * run. The thread closing the context, after its last poll.
     */
    public String drainForClose() {
        bottomHalf.delete();
        Coroutine co = reverse((Coroutine) HEAD.getAndSet(this, (Coroutine) null)); // pairs with the CAS in push()
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

    /** Whether no coroutine is waiting to be entered (volatile read). Any thread; for tests and diagnostics. */
    public boolean isEmpty() {
        return HEAD.getVolatile(this) == null;
    }
}
