package io.blockloop.block.file;

import io.blockloop.coroutine.Coroutine;
import io.blockloop.engine.CompletionHandler;

import java.util.Arrays;

/**
 * Coroutines of one node waiting for engine completions: a slot table indexed by the request's {@code tag}, so a
 * completion finds its coroutine without allocating. {@link #await} parks the calling coroutine in a free slot
 * until the engine's completion for that tag wakes it, then returns the result.
 *
 * <p>Threads: the node's home thread only (engines deliver completions on their owner thread, which is that one).
 * Submit-then-yield is safe because an engine never delivers a completion from inside the submitting call.
 */
final class EngineWaiters implements CompletionHandler {
    private Coroutine[] waiting = new Coroutine[16];
    private long[] results = new long[16];
    private int[] free = new int[16];
    private int freeCount;
    private int used;

    EngineWaiters() {
        for (int i = 15; i >= 0; i--) {
            free[freeCount++] = i;
        }
    }

    /** Reserves a slot for the calling coroutine; pass it as the engine request's tag, then call {@link #await}. */
    int reserve() {
        if (freeCount == 0) {
            grow();
        }
        int slot = free[--freeCount];
        waiting[slot] = Coroutine.self();
        used++;
        return slot;
    }

    /** Gives back a slot whose request could not be submitted. */
    void cancel(int slot) {
        release(slot);
    }

    /** Yields until the completion of {@code slot} arrives; returns its result (bytes or negative errno). */
    long await(int slot) {
        Coroutine.yield();
        if (waiting[slot] != null) {
            throw new IllegalStateException("coroutine woken before the completion of its engine request (slot "
                    + slot + ")");
        }
        long result = results[slot];
        free[freeCount++] = slot;
        return result;
    }

    @Override
    public void complete(long tag, long result) {
        int slot = (int) tag;
        Coroutine co = waiting[slot];
        results[slot] = result;
        waiting[slot] = null;
        used--;
        co.wake();
    }

    /** Requests submitted and not yet completed. */
    int outstanding() {
        return used;
    }

    private void release(int slot) {
        waiting[slot] = null;
        used--;
        free[freeCount++] = slot;
    }

    private void grow() {
        int old = waiting.length;
        waiting = Arrays.copyOf(waiting, old * 2);
        results = Arrays.copyOf(results, old * 2);
        free = Arrays.copyOf(free, old * 2);
        for (int i = old * 2 - 1; i >= old; i--) {
            free[freeCount++] = i;
        }
    }
}
