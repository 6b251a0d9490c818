package io.blockloop.coroutine;

/**
 * The free coroutines of one thread: a bounded LIFO stack, so that creating a coroutine on the I/O path
 * reuses one whose stack is warm instead of allocating (QEMU's per-thread coroutine pool). A coroutine
 * that terminates goes back to the pool of the thread it terminated on, which need not be the thread that
 * created it; when the pool is full the coroutine is dropped and collected as garbage.
 *
 * <p>Threads: owned by one thread ({@link #ofCurrentThread()}); every method is called by that thread only.
 * Memory ordering: plain fields, no sharing.
 */
final class CoroutinePool {
    /** Free coroutines kept per thread; the system property {@code blockloop.coroutine.poolCapacity} overrides it. */
    static final int DEFAULT_CAPACITY = Math.max(0, Integer.getInteger("blockloop.coroutine.poolCapacity", 256));

    private static final ThreadLocal<CoroutinePool> OF_THREAD =
            ThreadLocal.withInitial(() -> new CoroutinePool(DEFAULT_CAPACITY));

    private final Coroutine[] free;
    private int size;

    CoroutinePool(int capacity) {
        this.free = new Coroutine[capacity];
    }

    /** The calling thread's pool, created on first use. Any thread (for itself). */
    static CoroutinePool ofCurrentThread() {
        return OF_THREAD.get();
    }

    /** Takes the most recently released coroutine, or returns null when the pool is empty. Owner thread. */
    Coroutine poll() {
        if (size == 0) {
            return null;
        }
        Coroutine co = free[--size];
        free[size] = null;
        return co;
    }

    /** Keeps {@code co} for reuse; returns false (and keeps nothing) when the pool is full. Owner thread. */
    boolean offer(Coroutine co) {
        if (size == free.length) {
            return false;
        }
        free[size++] = co;
        return true;
    }

    /** How many free coroutines the pool holds. Owner thread. */
    int size() {
        return size;
    }
}
