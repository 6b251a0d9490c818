package io.blockloop.engine;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * The request slots of one engine. Slots are created in chunks of {@value #CHUNK}, each with
 * {@code scratchBytes} of native memory carved from one chunk allocation, and recycled through an intrusive free
 * list: once the pool has grown to the largest number of requests the caller ever had outstanding, acquiring and
 * releasing allocate nothing.
 *
 * <p>A slot's index is its position in {@link #slots}, which is what engines put in the kernel's
 * {@code user_data}/{@code aio_data}. Each acquisition bumps the slot's generation, so a stale request id (one
 * whose request already completed) never finds the slot's next occupant.
 *
 * <p>Threads: owner thread only (workers touch slots, never the pool).
 */
final class RequestPool {
    static final int CHUNK = 32;

    private final EngineMemory memory;
    private final long scratchBytes;
    private Request[] slots = new Request[CHUNK];
    private int count;
    private Request free;
    private int inUse;

    RequestPool(EngineMemory memory, long scratchBytes) {
        this.memory = memory;
        this.scratchBytes = scratchBytes;
    }

    /** A slot in state {@link Request#QUEUED} carrying {@code handler} and {@code tag}; the caller fills the rest. */
    Request acquire(CompletionHandler handler, long tag) {
        if (handler == null) {
            throw new NullPointerException("handler");
        }
        Request r = free;
        if (r == null) {
            grow();
            r = free;
        }
        free = r.nextFree;
        r.nextFree = null;
        r.generation++;
        r.state = Request.QUEUED;
        r.handler = handler;
        r.tag = tag;
        r.result = 0;
        inUse++;
        return r;
    }

    void release(Request r) {
        assert r.state != Request.FREE : "slot released twice";
        r.state = Request.FREE;
        r.clear();
        r.nextFree = free;
        free = r;
        inUse--;
    }

    /** The slot with {@code index}; the caller knows it is in use (the kernel returned it). */
    Request byIndex(long index) {
        return slots[(int) index];
    }

    /** The outstanding request with {@code id}, or null if it completed (or never existed). */
    Request lookup(long id) {
        int index = Request.indexOf(id);
        if (index < 0 || index >= count) {
            return null;
        }
        Request r = slots[index];
        return r.state != Request.FREE && r.generation == Request.generationOf(id) ? r : null;
    }

    /** Slots handed out and not yet released. */
    int inUse() {
        return inUse;
    }

    int capacity() {
        return count;
    }

    private void grow() {
        if (count + CHUNK > slots.length) {
            slots = Arrays.copyOf(slots, slots.length * 2);
        }
        MemorySegment chunk = scratchBytes == 0 ? MemorySegment.NULL : memory.allocate(scratchBytes * CHUNK, 64);
        for (int i = CHUNK - 1; i >= 0; i--) {
            MemorySegment scratch = scratchBytes == 0 ? MemorySegment.NULL : chunk.asSlice(i * scratchBytes, scratchBytes);
            Request r = new Request(count + i, scratch);
            slots[count + i] = r;
            r.nextFree = free;
            free = r;
        }
        count += CHUNK;
    }
}
