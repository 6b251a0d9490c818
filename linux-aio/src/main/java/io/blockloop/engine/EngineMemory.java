package io.blockloop.engine;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The native memory of one engine (iocbs, iovec scratch, event arrays, ...): one shared {@link Arena} whose
 * lifetime is the engine's, plus a process-wide count of the bytes all engines hold, so tests can prove that
 * closing an engine gives everything back.
 *
 * <p>Threads: {@link #allocate} and {@link #close()} are called by the engine's owner (or its closer); the memory
 * itself may be touched by any thread (workers, the kernel) while the engine is open, which is why the arena is
 * shared. {@link #liveBytes()} is an atomic read, any thread.
 */
public final class EngineMemory implements AutoCloseable {
    /** A process-wide statistic: atomic adds for an exact total, no ordering needed. */
    private static final AtomicLong LIVE_BYTES = new AtomicLong();

    private final Arena arena = Arena.ofShared();
    private long allocated;
    private boolean closed;

    EngineMemory() {
    }

    /** Bytes currently allocated by all open engines in this process. */
    public static long liveBytes() {
        return LIVE_BYTES.get();
    }

    /** {@code size} zeroed bytes aligned to {@code alignment}, freed when the engine closes. */
    MemorySegment allocate(long size, long alignment) {
        if (closed) {
            throw new IllegalStateException("engine memory already released");
        }
        MemorySegment segment = arena.allocate(size, alignment);
        allocated += size;
        LIVE_BYTES.addAndGet(size);
        return segment;
    }

    /** Bytes this engine holds. */
    long allocated() {
        return allocated;
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            arena.close();
            LIVE_BYTES.addAndGet(-allocated);
            allocated = 0;
        }
    }
}
