package io.blockloop.block.backend;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.Lock;

/**
 * The lock of a {@link BlockBackend}'s queue of requests parked by a drained section (QEMU's
 * {@code queued_requests_lock}): a spin lock that never parks and records no owner thread.
 *
 * <p>Why not a JDK lock: a coroutine that moved between IOThreads may, in compiled code, still see the
 * {@code Thread.currentThread()} it read before the move (measured; see {@code io.blockloop.block.graph}'s package
 * documentation). {@code ReentrantLock} would record that stale owner, and both {@code ReentrantLock} and
 * {@code StampedLock} park and unpark by thread identity, so a contended hand-over could wake the wrong thread and
 * hang. The sections under this lock are a few field updates (the wake-ups themselves run with it released), so
 * spinning costs nothing measurable.
 *
 * <p>Threads: any. Memory ordering: {@link #lock()} is a CAS (volatile) that acquires; {@link #unlock()} is a
 * release store; together they order the queue's plain fields between holders.
 */
final class ParkedRequestsLock implements Lock {
    private static final VarHandle HELD;

    static {
        try {
            HELD = MethodHandles.lookup().findVarHandle(ParkedRequestsLock.class, "held", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    @SuppressWarnings("unused") // through HELD
    private volatile int held;

    @Override
    public void lock() {
        while (!HELD.compareAndSet(this, 0, 1)) { // acquires: pairs with unlock()'s release store
            Thread.onSpinWait();
        }
    }

    @Override
    public boolean tryLock() {
        return HELD.compareAndSet(this, 0, 1); // acquires: pairs with unlock()'s release store
    }

    @Override
    public void unlock() {
        HELD.setRelease(this, 0); // pairs with the acquiring CAS of the next lock()
    }

    @Override
    public void lockInterruptibly() {
        lock();
    }

    @Override
    public boolean tryLock(long time, TimeUnit unit) {
        long deadline = System.nanoTime() + unit.toNanos(time);
        while (!tryLock()) {
            if (System.nanoTime() - deadline >= 0) {
                return false;
            }
            Thread.onSpinWait();
        }
        return true;
    }

    @Override
    public Condition newCondition() {
        throw new UnsupportedOperationException("parked requests wait in a CoQueue, not on a condition");
    }
}
