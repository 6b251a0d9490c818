package io.blockloop.engine;

import io.blockloop.ffm.libc.IoVec;

import java.lang.foreign.MemorySegment;
import java.util.function.BooleanSupplier;

/**
 * The buffers an {@link IoUringEngine} registered with its ring (io_uring's fixed buffers; QEMU's
 * {@code blk_register_buf}, which {@code qemu-img bench} calls on its buffer). The kernel pins their pages once, so
 * a read or write whose data lies inside one goes out as {@code READ_FIXED}/{@code WRITE_FIXED} with the buffer's
 * index and skips pinning the user's pages for every request.
 *
 * <p>The kernel holds one table per ring; a change registers the whole table again (unregister, then register), so
 * indexes move. An SQE already in the SQ ring names its buffer by index, so a change first submits what the SQ
 * ring holds ({@code flush}); if the kernel will not take it all ({@code EAGAIN}/{@code EBUSY}), the change waits:
 * an added buffer is refused, a removed one is only marked unusable until the next change succeeds.
 *
 * <p>A buffer must stay allocated while it is registered: a request matched to it by address reaches the pages
 * pinned at registration, not whatever the address maps later. {@link #indexOf} checks that the buffer's
 * {@link MemorySegment#scope() scope} is still alive and drops the buffer when it is not, which covers memory
 * freed with its arena; memory freed behind the segment's back ({@code free()} of a raw address) is the caller's
 * to unregister first, as with QEMU's {@code blk_unregister_buf}.
 *
 * <p>Threads: the engine's owner thread, like the ring's SQ side.
 */
final class FixedBuffers {
    /** Buffers at most; the kernel takes up to 16 384. */
    static final int MAX_BUFFERS = 64;
    /** The kernel refuses a fixed buffer over 1 GiB ({@code EFAULT}). */
    static final long MAX_BUFFER_BYTES = 1L << 30;

    /** Where the table goes: the engine's own ring, or the loop's ring it shares. */
    interface Ring {
        /** {@code io_uring_register_buffers}: 0 or {@code -errno}. */
        int register(MemorySegment iovecs, int count);

        /** {@code io_uring_unregister_buffers}: 0 or {@code -errno}. */
        int unregister();
    }

    private final Ring ring;
    /** Submits what the SQ ring holds; false when some SQEs stayed queued. */
    private final BooleanSupplier flush;
    private final MemorySegment iovecs;
    private final MemorySegment[] buffers = new MemorySegment[MAX_BUFFERS];
    private final long[] starts = new long[MAX_BUFFERS];
    /** End address of each buffer; 0 for one that must no longer be used (removed, or its memory freed). */
    private final long[] ends = new long[MAX_BUFFERS];
    /** Registrations of each buffer not undone yet (several nodes of one context share the engine). */
    private final int[] refs = new int[MAX_BUFFERS];
    /** Entries in the arrays; the kernel's table holds the first {@code count} when {@link #registered}. */
    private int count;
    private boolean registered;
    /** The errno of the last refused registration, 0 if none: for diagnostics. */
    private int lastErrno;
    /** Requests that went out as READ_FIXED/WRITE_FIXED; for tests. */
    long fixedRequests;

    /** {@code iovecs}: native memory for {@value #MAX_BUFFERS} {@code struct iovec}s, which the engine owns. */
    FixedBuffers(Ring ring, BooleanSupplier flush, MemorySegment iovecs) {
        if (iovecs.byteSize() < (long) MAX_BUFFERS * IoVec.SIZE) {
            throw new IllegalArgumentException("room for " + MAX_BUFFERS + " iovecs needed");
        }
        this.ring = ring;
        this.flush = flush;
        this.iovecs = iovecs;
    }

    /**
     * Registers {@code buffer}; true if requests in it now skip the pinning. False, with the buffer not
     * registered, when it is not native memory, is empty or over {@value #MAX_BUFFER_BYTES} bytes, the table is
     * full, the SQ ring could not be emptied, or the kernel refused ({@code ENOMEM} over {@code RLIMIT_MEMLOCK}).
     * Registering a buffer again answers true and counts: it stays until removed as often as it was added.
     */
    boolean add(MemorySegment buffer) {
        if (!buffer.isNative() || buffer.byteSize() == 0 || buffer.byteSize() > MAX_BUFFER_BYTES
                || !buffer.scope().isAlive()) {
            return false;
        }
        int known = find(buffer);
        if (known >= 0) {
            refs[known]++;
            return true;
        }
        if (count == MAX_BUFFERS && !compactable()) {
            return false;
        }
        if (!flush.getAsBoolean()) {
            return false;
        }
        compact();
        if (count == MAX_BUFFERS) {
            return false;
        }
        buffers[count] = buffer;
        starts[count] = buffer.address();
        ends[count] = buffer.address() + buffer.byteSize();
        refs[count] = 1;
        count++;
        if (registerTable()) {
            return true;
        }
        count--; // the kernel refused the new table: register the old one again
        buffers[count] = null;
        ends[count] = 0;
        registerTable();
        return false;
    }

    /**
     * Undoes one {@link #add}; false if the buffer was not registered. After the last, no request is matched to it,
     * and the kernel lets its pages go now, or at the next change when the SQ ring could not be emptied.
     */
    boolean remove(MemorySegment buffer) {
        int i = find(buffer);
        if (i < 0) {
            return false;
        }
        if (--refs[i] > 0) {
            return true;
        }
        ends[i] = 0;
        buffers[i] = null;
        if (flush.getAsBoolean()) {
            compact();
            registerTable();
        }
        return true;
    }

    /**
     * The table index of the registered buffer that holds {@code [address, address + length)}, or -1: then the
     * request takes the normal path. Drops a buffer whose memory was freed. Called for every read and write.
     */
    int indexOf(long address, long length) {
        if (!registered) {
            return -1;
        }
        long end = address + length;
        for (int i = 0; i < count; i++) {
            if (address >= starts[i] && end <= ends[i]) {
                if (buffers[i].scope().isAlive()) {
                    fixedRequests++;
                    return i;
                }
                ends[i] = 0; // freed with its arena: never match it again; the kernel's copy goes at the next change
                buffers[i] = null;
                return -1;
            }
        }
        return -1;
    }

    /** Buffers registered and usable. */
    int size() {
        int n = 0;
        for (int i = 0; i < count; i++) {
            n += ends[i] != 0 ? 1 : 0;
        }
        return n;
    }

    /** The errno of the last refused registration, 0 if none. */
    int lastErrno() {
        return lastErrno;
    }

    /** Unregisters every buffer (the loop's ring outlives the engine). Best effort: the ring may be gone. */
    void clear() {
        if (registered) {
            ring.unregister();
            registered = false;
        }
        for (int i = 0; i < count; i++) {
            buffers[i] = null;
            ends[i] = 0;
        }
        count = 0;
    }

    private int find(MemorySegment buffer) {
        for (int i = 0; i < count; i++) {
            if (ends[i] != 0 && starts[i] == buffer.address() && ends[i] - starts[i] == buffer.byteSize()) {
                return i;
            }
        }
        return -1;
    }

    private boolean compactable() {
        return size() < count;
    }

    /** Drops the unusable entries. Only while the SQ ring is empty: indexes move. */
    private void compact() {
        int kept = 0;
        for (int i = 0; i < count; i++) {
            if (ends[i] != 0) {
                buffers[kept] = buffers[i];
                starts[kept] = starts[i];
                ends[kept] = ends[i];
                refs[kept] = refs[i];
                kept++;
            }
        }
        for (int i = kept; i < count; i++) {
            buffers[i] = null;
            ends[i] = 0;
        }
        count = kept;
    }

    /** Replaces the kernel's table with the first {@link #count} entries; false if the kernel refused them. */
    private boolean registerTable() {
        if (registered) {
            ring.unregister();
            registered = false;
        }
        if (count == 0) {
            return true;
        }
        for (int i = 0; i < count; i++) {
            IoVec.set(iovecs, i, starts[i], ends[i] - starts[i]);
        }
        int r = ring.register(iovecs, count);
        registered = r == 0;
        if (r != 0) {
            lastErrno = -r;
        }
        return registered;
    }
}
