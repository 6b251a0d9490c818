package io.blockloop.block;

import io.blockloop.ffm.libc.IoVec;
import io.blockloop.ffm.memory.ArenaPins;
import io.blockloop.ffm.memory.ZeroFill;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Objects;

/**
 * The buffers of one request (QEMU's {@code QEMUIOVector}): an ordered list of native memory segments, kept
 * together with the native {@code struct iovec} array the kernel reads, so a vectored request goes down the stack
 * without being rebuilt. Reusable: {@link #reset()} and add again; the iovec array grows and is then kept, so a
 * vector that is reused for requests of the same shape allocates nothing, and a one-segment vector never
 * allocates the array at all.
 *
 * <p>Threads: not thread-safe. One request uses it at a time; whoever owns the request (a coroutine, which runs
 * on its context's home thread) owns the vector until the request completes. The iovec array lives in an
 * {@link Arena#ofAuto() automatic} arena, so it is freed with the vector.
 */
public final class IoVector {
    private MemorySegment[] segments;
    private int count;
    private long size;
    private MemorySegment iovArray;
    /** How many entries of iovArray are up to date with segments (filled lazily by {@link #iovArray()}). */
    private int iovFilled;

    /** An empty vector with room for {@code capacity} segments before it grows. */
    public IoVector(int capacity) {
        segments = new MemorySegment[Math.max(1, capacity)];
    }

    /** A vector of exactly these segments (copied references). */
    public static IoVector of(MemorySegment... buffers) {
        IoVector v = new IoVector(buffers.length);
        for (MemorySegment b : buffers) {
            v.add(b);
        }
        return v;
    }

    /** Appends a native segment. */
    public IoVector add(MemorySegment buffer) {
        Objects.requireNonNull(buffer, "buffer");
        if (!buffer.isNative()) {
            throw new IllegalArgumentException("I/O buffers must be native memory segments");
        }
        if (count == segments.length) {
            segments = Arrays.copyOf(segments, count * 2);
        }
        segments[count++] = buffer;
        size += buffer.byteSize();
        return this;
    }

    /**
     * Throws when this vector's memory cannot carry a request: {@link IllegalStateException} for a segment whose
     * arena is closed (the kernel would use freed memory), {@link IllegalArgumentException} for a read-only segment
     * when the request writes into the vector ({@code writtenInto}: a read). Any thread.
     */
    public void checkUsable(boolean writtenInto) {
        for (int i = 0; i < count; i++) {
            MemorySegment s = segments[i];
            if (!s.scope().isAlive()) {
                throw new IllegalStateException("I/O buffer " + i + " of " + count + ": its arena is already closed");
            }
            if (writtenInto && s.isReadOnly()) {
                throw new IllegalArgumentException("I/O buffer " + i + " of " + count
                        + " is read-only, and a read writes into it");
            }
        }
    }

    /**
     * Keeps open, until {@link #unpinArenas}, the arena of every segment that {@code on} may access and {@code notBy}
     * may not (null: no such exclusion): closing one meanwhile throws instead of freeing memory the kernel may still
     * use ({@link ArenaPins}). A request pins on each thread that may close its memory: the caller's, and the thread
     * that does the request for the segments only that one can reach. The vector must not change until the unpin.
     * Call it on {@code on}; {@link #checkUsable} first.
     *
     * @throws IllegalStateException for a segment whose arena was closed since the check; nothing is then pinned
     */
    public void pinArenas(Thread on, Thread notBy) {
        for (int i = 0; i < count; i++) {
            if (!pinnedBy(segments[i], on, notBy)) {
                continue;
            }
            try {
                ArenaPins.pin(segments[i]);
            } catch (RuntimeException e) { // closed since the check, or (called on another thread than on) confined
                unpin(i, on, notBy);
                if (e instanceof IllegalStateException) {
                    throw new IllegalStateException("I/O buffer " + i + " of " + count + ": its arena is already "
                            + "closed", e);
                }
                throw e;
            }
        }
    }

    /** Releases what {@link #pinArenas} pinned with the same two threads. Any thread. */
    public void unpinArenas(Thread on, Thread notBy) {
        unpin(count, on, notBy);
    }

    private void unpin(int end, Thread on, Thread notBy) {
        for (int i = 0; i < end; i++) {
            if (pinnedBy(segments[i], on, notBy)) { // a confined arena's owner never changes: the same answer
                ArenaPins.unpin(segments[i]);
            }
        }
    }

    private static boolean pinnedBy(MemorySegment segment, Thread on, Thread notBy) {
        return segment.isAccessibleBy(on) && (notBy == null || !segment.isAccessibleBy(notBy));
    }

    /** Empties the vector for reuse (the storage is kept). */
    public IoVector reset() {
        Arrays.fill(segments, 0, count, null);
        count = 0;
        size = 0;
        iovFilled = 0;
        return this;
    }

    /** Total bytes. */
    public long size() {
        return size;
    }

    /** Number of segments. */
    public int count() {
        return count;
    }

    /** Segment {@code i}. */
    public MemorySegment segment(int i) {
        Objects.checkIndex(i, count);
        return segments[i];
    }

    /**
     * The native {@code struct iovec[count()]} describing the segments, allocated on first use (single-buffer
     * requests never need it) and filled on demand. The array is owned by this vector: valid until the next change.
     */
    public MemorySegment iovArray() {
        if (iovArray == null || iovArray.byteSize() < count * IoVec.SIZE) {
            iovArray = Arena.ofAuto().allocate(IoVec.LAYOUT, segments.length);
            iovFilled = 0;
        }
        for (int i = iovFilled; i < count; i++) {
            IoVec.set(iovArray, i, segments[i]);
        }
        iovFilled = count;
        return iovArray;
    }

    /** Whether every segment starts at a multiple of {@code memoryAlignment} and is a multiple of {@code lengthAlignment} long. */
    public boolean isAligned(long memoryAlignment, long lengthAlignment) {
        for (int i = 0; i < count; i++) {
            MemorySegment s = segments[i];
            if ((s.address() & (memoryAlignment - 1)) != 0 || (s.byteSize() & (lengthAlignment - 1)) != 0) {
                return false;
            }
        }
        return true;
    }

    /** Copies {@code length} bytes starting at byte {@code from} of this vector into {@code target} at {@code targetOffset}. */
    public void copyTo(long from, MemorySegment target, long targetOffset, long length) {
        walk(COPY_OUT, from, length, target, targetOffset, null);
    }

    /** Copies {@code length} bytes from {@code source} at {@code sourceOffset} into this vector at byte {@code to}. */
    public void copyFrom(MemorySegment source, long sourceOffset, long to, long length) {
        walk(COPY_IN, to, length, source, sourceOffset, null);
    }

    /** Fills {@code length} bytes at byte {@code from} with zeroes. */
    public void zero(long from, long length) {
        walk(ZERO, from, length, null, 0, null);
    }

    /**
     * Appends to {@code target} the slices of this vector covering bytes {@code [from, from + length)}. The
     * slices share memory with this vector (QEMU's {@code qemu_iovec_concat}).
     */
    public void sliceInto(IoVector target, long from, long length) {
        walk(SLICE, from, length, null, 0, target);
    }

    private static final int COPY_OUT = 0;
    private static final int COPY_IN = 1;
    private static final int ZERO = 2;
    private static final int SLICE = 3;

    /**
     * Visits the pieces of segments covering bytes {@code [from, from + length)} of this vector and applies
     * {@code op} to each: one loop for every operation, and no lambda, so the null driver's zeroing allocates
     * nothing.
     */
    private void walk(int op, long from, long length, MemorySegment other, long otherOffset, IoVector target) {
        long skip = from;
        long done = 0;
        for (int i = 0; i < count && done < length; i++) {
            MemorySegment s = segments[i];
            long segSize = s.byteSize();
            if (skip >= segSize) {
                skip -= segSize;
                continue;
            }
            long n = Math.min(segSize - skip, length - done);
            switch (op) {
                case COPY_OUT -> MemorySegment.copy(s, skip, other, otherOffset + done, n);
                case COPY_IN -> MemorySegment.copy(other, otherOffset + done, s, skip, n);
                case ZERO -> ZeroFill.zero(s.asSlice(skip, n));
                default -> target.add(skip == 0 && n == segSize ? s : s.asSlice(skip, n));
            }
            done += n;
            skip = 0;
        }
        checkCopied(done, length);
    }

    private static void checkCopied(long done, long length) {
        if (done != length) {
            throw new IndexOutOfBoundsException("I/O vector holds " + done + " of the " + length + " bytes asked");
        }
    }

    @Override
    public String toString() {
        return "IoVector[" + count + " segments, " + size + " bytes]";
    }
}
