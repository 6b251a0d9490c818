package io.blockloop.aio;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * A bottom half: a callback that runs in its {@link AioContext}'s home thread, at the next loop iteration
 * after it is scheduled (QEMU's {@code QEMUBH}). Create one with {@link AioContext#newBottomHalf}; a BH is
 * reusable until {@link #delete()}d, which every owner must do before the context closes (a context that
 * closes with a live BH reports it as leaked).
 *
 * <p>However often it is scheduled, a BH sits on its context's queue at most once ({@code PENDING}) and runs
 * at most once per pass; a BH scheduled while its context is running a BH pass runs in the next pass.
 *
 * <p>Threads: {@link #schedule()}, {@link #scheduleIdle()}, {@link #cancel()}, {@link #delete()} any thread.
 * The callback runs on the home thread.
 *
 * <p>Memory ordering: the flags word changes only by volatile read-modify-writes ({@code getAndBitwiseOr/And});
 * the enqueue that follows is a volatile CAS on the context's list head, and the loop takes the list with a
 * volatile {@code getAndSet}, so everything a thread wrote before {@code schedule()} happens before the
 * callback runs.
 */
public final class BottomHalf {
    static final int PENDING = 1;
    static final int SCHEDULED = 1 << 1;
    static final int DELETED = 1 << 2;
    static final int ONESHOT = 1 << 3;
    static final int IDLE = 1 << 4;

    private static final VarHandle FLAGS;

    static {
        try {
            FLAGS = MethodHandles.lookup().findVarHandle(BottomHalf.class, "flags", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final AioContext context;
    private final String name;
    private final Runnable callback;
    @SuppressWarnings("unused") // accessed through FLAGS
    private int flags;
    /** Queue link: written before the CAS that publishes this BH, then read by the home thread only. */
    BottomHalf next;

    BottomHalf(AioContext context, String name, Runnable callback, int initialFlags) {
        this.context = context;
        this.name = name;
        this.callback = callback;
        FLAGS.set(this, initialFlags);
    }

    public String name() {
        return name;
    }

    public AioContext context() {
        return context;
    }

    Runnable callback() {
        return callback;
    }

    /**
     * Runs the callback at the next loop iteration (QEMU's {@code qemu_bh_schedule}). Any thread.
     *
     * @throws IllegalStateException when the context is closed or closing (see {@link #enqueue})
     */
    public void schedule() {
        enqueue(SCHEDULED);
    }

    /**
     * Runs the callback when the loop is next idle, at the latest about 10 ms from now; running it does not
     * count as loop progress ({@code qemu_bh_schedule_idle}). Any thread.
     */
    public void scheduleIdle() {
        enqueue(SCHEDULED | IDLE);
    }

    /**
     * Un-schedules the BH if it has not started running ({@code qemu_bh_cancel}); the queue entry stays and is
     * dropped by the next pass. Any thread.
     */
    public void cancel() {
        // Volatile RMW: a pass whose takeFlagsForPass() comes after it sees SCHEDULED clear and skips the callback.
        FLAGS.getAndBitwiseAnd(this, ~SCHEDULED);
    }

    /**
     * Cancels the BH and frees it at the next pass (asynchronously, so it may be called from the callback
     * itself or from any thread). Idempotent; the BH must not be scheduled again. Any thread.
     */
    public void delete() {
        enqueue(DELETED);
    }

    /** Whether the BH is scheduled and not yet run or cancelled (volatile). Any thread. */
    public boolean isScheduled() {
        return ((int) FLAGS.getVolatile(this) & SCHEDULED) != 0;
    }

    /** Whether {@link #delete()} was called (volatile). Any thread. */
    public boolean isDeleted() {
        return ((int) FLAGS.getVolatile(this) & DELETED) != 0;
    }

    /**
     * QEMU's {@code aio_bh_enqueue}: sets the flags and queues the BH unless it is queued already. Any thread.
     *
     * @throws IllegalStateException when the context's queue is sealed (the context is closed, or its IOThread is
     *                               running its last pass) and the BH is not queued from before: nothing would run
     *                               it. Deleting is always allowed.
     *                               If two threads schedule the same BH just as the seal lands, one may be refused
     *                               while the other's call returns, merged into the refused one; the BH then does
     *                               not run. A one-shot BH has a single scheduler: this concerns persistent BHs.
     */
    void enqueue(int newFlags) {
        boolean deleting = newFlags == DELETED;
        // No "is it sealed?" check first: a BH still queued from before the seal will run in the last pass, so
        // scheduling it again is rightly accepted; one that is not queued meets the seal at the push below.
        // Volatile RMW, ordered with takeFlagsForPass(): only the caller that finds PENDING clear pushes the BH.
        int old = (int) FLAGS.getAndBitwiseOr(this, PENDING | newFlags);
        if ((old & DELETED) != 0) {
            if (deleting) {
                return; // deleting twice is harmless
            }
            throw new IllegalStateException("BH '" + name + "' was deleted and cannot be scheduled");
        }
        if (deleting) {
            context.bottomHalfDeleted(this);
        }
        if ((old & PENDING) == 0 && !context.bottomHalves().push(this)) {
            // The context has sealed its queue: nothing will run this BH. Undo PENDING, so that a later schedule
            // meets the seal as well instead of taking the BH for queued.
            FLAGS.getAndBitwiseAnd(this, ~(PENDING | SCHEDULED | IDLE));
            if (!deleting) {
                throw closed();
            }
            return; // a deleted BH of a closed context needs no pass to free it
        }
        if ((newFlags & IDLE) != 0 && context.inHomeThread()) {
            // The loop itself scheduled it: its next wait, up to 10 ms with an idle BH queued, ends in time. A
            // notification would make that wait not block at all, and an idle BH that rescheduled itself ran
            // millions of times a second, a CPU spinning (QEMU's aio_notify does the same). Another thread's
            // schedule notifies, as the loop may sleep without a timeout.
            return;
        }
        // Always notify, even if already queued: a cancelled-then-rescheduled BH must wake a loop that went to
        // sleep after seeing it cancelled.
        context.notifyLoop();
    }

    private IllegalStateException closed() {
        return new IllegalStateException("BH '" + name + "': context '" + context.name() + "' is closed");
    }

    /** Takes the flags a pass acts on and clears PENDING/SCHEDULED/IDLE (volatile RMW). Home thread. */
    int takeFlagsForPass() {
        // Pairs with the RMWs of enqueue() and cancel(): an enqueue after this one sees PENDING clear and pushes again.
        return (int) FLAGS.getAndBitwiseAnd(this, ~(PENDING | SCHEDULED | IDLE));
    }

    /** The flags (acquire), for timeout computation. Home thread. */
    int flagsAcquire() {
        // Acquire: pairs with the volatile RMWs of enqueue() and cancel() on other threads.
        return (int) FLAGS.getAcquire(this);
    }

    @Override
    public String toString() {
        return "BottomHalf[" + name + "]";
    }
}
