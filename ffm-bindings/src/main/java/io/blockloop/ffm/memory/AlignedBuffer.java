package io.blockloop.ffm.memory;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Native memory aligned for {@code O_DIRECT}: the address is a multiple of {@link #alignment()}, which
 * must be a power of two (the device's memory alignment, usually 512 or 4096).
 *
 * <p>Thread safety: the memory may be used by any thread; {@link #close()} frees it and must happen after
 * every use has finished, including kernel I/O into it (the owner guarantees that by reaping first).
 */
public final class AlignedBuffer implements AutoCloseable {
    private final Arena arena;
    private final MemorySegment segment;
    private final long alignment;

    private AlignedBuffer(Arena arena, MemorySegment segment, long alignment) {
        this.arena = arena;
        this.segment = segment;
        this.alignment = alignment;
    }

    /** Allocates {@code size} zeroed bytes aligned to {@code alignment}. */
    public static AlignedBuffer allocate(long size, long alignment) {
        if (alignment <= 0 || Long.bitCount(alignment) != 1) {
            throw new IllegalArgumentException("alignment must be a power of two, is " + alignment);
        }
        if (size <= 0) {
            throw new IllegalArgumentException("size must be positive, is " + size);
        }
        Arena arena = Arena.ofShared();
        return new AlignedBuffer(arena, arena.allocate(size, alignment), alignment);
    }

    /** True when {@code address} is a multiple of the power-of-two {@code alignment}. */
    public static boolean isAligned(long address, long alignment) {
        return (address & (alignment - 1)) == 0;
    }

    public MemorySegment segment() {
        return segment;
    }

    public long address() {
        return segment.address();
    }

    public long size() {
        return segment.byteSize();
    }

    public long alignment() {
        return alignment;
    }

    @Override
    public void close() {
        if (arena.scope().isAlive()) {
            arena.close();
        }
    }
}
