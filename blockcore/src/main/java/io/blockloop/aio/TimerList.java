package io.blockloop.aio;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Arrays;

/**
 * The armed timers of one context, as a binary min-heap on the deadline (QEMU's {@code QEMUTimerList}, which
 * is a sorted list with a mutex).
 *
 * <p>Threads: every method may be called from any thread; heap and timer fields are guarded by
 * {@code synchronized (this)}. The earliest deadline is also cached in a field written with release stores
 * under the lock and read with acquire loads without it, so the loop's "anything expired?" check on every
 * iteration takes no lock when nothing is due.
 */
final class TimerList {
    private static final VarHandle EARLIEST;

    static {
        try {
            EARLIEST = MethodHandles.lookup().findVarHandle(TimerList.class, "earliestNs", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private Timer[] heap = new Timer[16];
    private int size;
    /** Deadline of heap[0], or Long.MAX_VALUE; through EARLIEST. */
    @SuppressWarnings("unused")
    private long earliestNs = Long.MAX_VALUE;

    /** Arms or re-arms {@code t}; returns whether it became the earliest timer (the loop must be told). */
    synchronized boolean mod(Timer t, long deadlineNs) {
        if (t.deleted) {
            throw new IllegalStateException("timer '" + t.name() + "' was deleted");
        }
        if (t.heapIndex >= 0) {
            long old = t.deadlineNs;
            t.deadlineNs = deadlineNs;
            if (deadlineNs < old) {
                siftUp(t.heapIndex);
            } else {
                siftDown(t.heapIndex);
            }
        } else {
            if (size == heap.length) {
                heap = Arrays.copyOf(heap, size * 2);
            }
            t.deadlineNs = deadlineNs;
            t.heapIndex = size;
            heap[size++] = t;
            siftUp(t.heapIndex);
        }
        publishEarliest();
        return t.heapIndex == 0;
    }

    synchronized void cancel(Timer t) {
        if (t.heapIndex >= 0) {
            removeAt(t.heapIndex);
            publishEarliest();
        }
    }

    synchronized void delete(Timer t) {
        cancel(t);
        t.deleted = true;
    }

    synchronized boolean isPending(Timer t) {
        return t.heapIndex >= 0;
    }

    synchronized long deadlineOf(Timer t) {
        return t.heapIndex >= 0 ? t.deadlineNs : -1;
    }

    /** -1 when no timer is armed, 0 when one has expired, else nanoseconds until the earliest deadline. */
    long deadlineNs(long nowNs) {
        long earliest = earliestAcquire();
        if (earliest == Long.MAX_VALUE) {
            return -1;
        }
        return Math.max(0, earliest - nowNs);
    }

    /** Removes and returns one timer whose deadline is at or before {@code nowNs}, or null. Home thread. */
    Timer pollExpired(long nowNs) {
        if (earliestAcquire() > nowNs) {
            return null;
        }
        synchronized (this) {
            if (size == 0 || heap[0].deadlineNs > nowNs) {
                return null;
            }
            Timer t = heap[0];
            removeAt(0);
            publishEarliest();
            return t;
        }
    }

    private long earliestAcquire() {
        // Acquire pairs with the release in publishEarliest().
        return (long) EARLIEST.getAcquire(this);
    }

    private void publishEarliest() {
        // Release, under the lock: pairs with earliestAcquire() in the loop's lock-free checks.
        EARLIEST.setRelease(this, size == 0 ? Long.MAX_VALUE : heap[0].deadlineNs);
    }

    private void removeAt(int i) {
        Timer removed = heap[i];
        removed.heapIndex = -1;
        size--;
        if (i != size) {
            Timer last = heap[size];
            heap[i] = last;
            last.heapIndex = i;
            heap[size] = null;
            siftDown(i);
            siftUp(last.heapIndex);
        } else {
            heap[size] = null;
        }
    }

    private void siftUp(int i) {
        Timer t = heap[i];
        while (i > 0) {
            int parent = (i - 1) >>> 1;
            Timer p = heap[parent];
            if (p.deadlineNs <= t.deadlineNs) {
                break;
            }
            heap[i] = p;
            p.heapIndex = i;
            i = parent;
        }
        heap[i] = t;
        t.heapIndex = i;
    }

    private void siftDown(int i) {
        Timer t = heap[i];
        int half = size >>> 1;
        while (i < half) {
            int child = 2 * i + 1;
            int right = child + 1;
            if (right < size && heap[right].deadlineNs < heap[child].deadlineNs) {
                child = right;
            }
            if (t.deadlineNs <= heap[child].deadlineNs) {
                break;
            }
            heap[i] = heap[child];
            heap[i].heapIndex = i;
            i = child;
        }
        heap[i] = t;
        t.heapIndex = i;
    }
}
