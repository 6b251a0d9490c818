package io.blockloop.block;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Aligned scratch memory for the requests that go through a copy: padded requests ({@link RequestPadding}) and
 * misaligned buffers under {@code O_DIRECT} (the {@code file} driver's bounce). Each thread keeps a pool of
 * buffers in power-of-two sizes from 4 KiB to {@value #POOLED_UP_TO} bytes, at most {@value #KEPT_PER_SIZE} of
 * each size, so a steady stream of such requests reuses its memory instead of creating an arena, a segment and an
 * I/O vector per request (208 bytes of garbage and a malloc, a zeroing and a free each, measured with 4 KiB reads
 * at offset 1). Larger or more strictly aligned buffers get memory of their own, freed at {@link Buffer#close()}.
 *
 * <p>A pooled buffer is not zeroed between uses: a caller writes or reads every byte it hands to the device, as
 * the request paths do (a padded write fills its partial blocks by reading them and the rest from the caller's
 * data; a read is filled by the device, which zero-fills a read that ends at the end of the file; the write-zeroes
 * fallback zeroes its buffer first).
 *
 * <p>Pooled memory comes from {@linkplain Arena#ofAuto() automatic} arenas: a thread's pool, and the memory in it,
 * is freed by the garbage collector after the thread ends. At most about {@value #KEPT_PER_SIZE} x 2 MiB stays
 * reserved per thread, and only as much as the thread's own peak of concurrent bounced requests of each size.
 *
 * <p>Threads: {@link #acquire} on any thread, usually an event loop's; {@link Buffer#close()} on the same thread
 * (a buffer with memory of its own is in a confined arena). Not shared between threads otherwise.
 */
public final class BounceBuffers {
    /** Requests up to this size take their buffer from the pool. */
    static final long POOLED_UP_TO = 1L << 20;
    /** Alignment of pooled buffers; a caller that needs more gets memory of its own. */
    static final long POOLED_ALIGNMENT = 4096;
    /** Free buffers kept per size; more are freed when released. */
    static final int KEPT_PER_SIZE = 8;
    private static final int SIZES = Long.numberOfTrailingZeros(POOLED_UP_TO / POOLED_ALIGNMENT) + 1;

    private static final ThreadLocal<BounceBuffers> POOLS = ThreadLocal.withInitial(BounceBuffers::new);

    private final Buffer[][] free = new Buffer[SIZES][KEPT_PER_SIZE];
    private final int[] freeCount = new int[SIZES];

    private BounceBuffers() {
    }

    /**
     * A buffer of exactly {@code size} bytes aligned to {@code alignment} (a power of two), with its one-element
     * vector. Release it with {@link Buffer#close()}, on this thread, after the last I/O into it has completed.
     */
    public static Buffer acquire(long size, long alignment) {
        if (size <= 0 || Long.bitCount(alignment) != 1) {
            throw new IllegalArgumentException("bounce buffer of " + size + " bytes aligned to " + alignment);
        }
        if (size > POOLED_UP_TO || alignment > POOLED_ALIGNMENT) {
            Arena own = Arena.ofConfined();
            return new Buffer(own.allocate(size, alignment), -1, own).use(size);
        }
        return POOLS.get().take(sizeClass(size)).use(size);
    }

    /** The index of the smallest pooled size that holds {@code size} bytes ({@code size <= POOLED_UP_TO}). */
    static int sizeClass(long size) {
        long blocks = (size + POOLED_ALIGNMENT - 1) / POOLED_ALIGNMENT;
        return 64 - Long.numberOfLeadingZeros(blocks - 1);
    }

    private Buffer take(int sizeClass) {
        int n = freeCount[sizeClass];
        if (n == 0) {
            long bytes = POOLED_ALIGNMENT << sizeClass;
            return new Buffer(Arena.ofAuto().allocate(bytes, POOLED_ALIGNMENT), sizeClass, null);
        }
        Buffer b = free[sizeClass][n - 1];
        free[sizeClass][n - 1] = null;
        freeCount[sizeClass] = n - 1;
        return b;
    }

    private void give(Buffer b) {
        int n = freeCount[b.sizeClass];
        if (n < KEPT_PER_SIZE) {
            free[b.sizeClass][n] = b;
            freeCount[b.sizeClass] = n + 1;
        } // else dropped: its automatic arena frees it
    }

    /** Free buffers of the size class that holds {@code size} bytes in this thread's pool (for tests). */
    static int pooledFree(long size) {
        return POOLS.get().freeCount[sizeClass(size)];
    }

    /**
     * One bounce buffer, lent until {@link #close()}. Its {@link #memory()} and {@link #vector()} stay the same
     * objects while consecutive uses ask for the same size, so a steady stream of equal requests allocates nothing.
     */
    public static final class Buffer implements AutoCloseable {
        private final MemorySegment whole;
        /** Pooled: the size class; -1 for memory of its own. */
        private final int sizeClass;
        /** Memory of its own: its arena, closed at {@link #close()}; null when pooled. */
        private final Arena own;
        private final IoVector vector = new IoVector(1);
        private MemorySegment memory;
        private boolean lent;
        /** Vectors of the first and of the last bytes of {@link #memory}, made at first use; see headVector. */
        private IoVector head;
        private IoVector tail;

        private Buffer(MemorySegment whole, int sizeClass, Arena own) {
            this.whole = whole;
            this.sizeClass = sizeClass;
            this.own = own;
        }

        private Buffer use(long size) {
            if (memory == null || memory.byteSize() != size) {
                memory = whole.asSlice(0, size);
                vector.reset().add(memory);
            }
            lent = true;
            return this;
        }

        /** The buffer's bytes: exactly the size asked for. */
        public MemorySegment memory() {
            return memory;
        }

        /** A vector of the one segment {@link #memory()}. */
        public IoVector vector() {
            return vector;
        }

        /**
         * A vector of the first {@code length} bytes of {@link #memory()}. Like {@link #tailVector}, it stays the
         * same object, over the same segment, while the buffer's size and {@code length} repeat: a padded write
         * reads its partial head and tail blocks through these, and the write-zeroes fallback writes its chunks,
         * without allocating.
         */
        public IoVector headVector(long length) {
            head = part(head, 0, length);
            return head;
        }

        /** A vector of the last {@code length} bytes of {@link #memory()}; see {@link #headVector}. */
        public IoVector tailVector(long length) {
            tail = part(tail, memory.byteSize() - length, length);
            return tail;
        }

        /** {@code cached} (or a new vector) holding the slice {@code [offset, offset + length)} of this buffer. */
        private IoVector part(IoVector cached, long offset, long length) {
            if (length <= 0 || length > memory.byteSize()) {
                throw new IllegalArgumentException("a part of " + length + " bytes of a bounce buffer of "
                        + memory.byteSize());
            }
            IoVector v = cached != null ? cached : new IoVector(1);
            if (v.count() == 0 || v.size() != length || v.segment(0).address() != whole.address() + offset) {
                v.reset().add(whole.asSlice(offset, length));
            }
            return v;
        }

        /** Gives the buffer back; nothing may use it afterwards. The thread that acquired it. */
        @Override
        public void close() {
            if (!lent) {
                throw new IllegalStateException("bounce buffer released twice");
            }
            lent = false;
            if (own != null) {
                own.close();
            } else {
                POOLS.get().give(this);
            }
        }
    }
}
