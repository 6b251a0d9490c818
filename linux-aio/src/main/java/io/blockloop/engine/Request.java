package io.blockloop.engine;

import io.blockloop.ffm.errno.Errno;
import io.blockloop.ffm.errno.NativeCallException;
import io.blockloop.ffm.libc.FileIo;
import io.blockloop.ffm.libc.IoVec;
import io.blockloop.ffm.libc.OpenFlags;
import io.blockloop.ffm.memory.ArenaPins;
import io.blockloop.ffm.memory.SegmentBounds;

import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * One pooled request slot: what was asked, where the engine keeps it, and how it ended. Slots are recycled by
 * {@link RequestPool}; a slot's {@link #scratch} native memory (an iocb, an iovec, ...) is fixed for its life.
 *
 * <p>Threads: written by the owner thread while it prepares the request and after it reaps it. The thread pool
 * hands a slot to a worker and back: the worker reads the request fields after taking the pool lock (which the
 * owner released after filling them) and writes {@link #result} before publishing the slot with a CAS on the
 * done stack, which the owner's {@code getAndSet} acquires. No field is ever accessed by two threads without one
 * of those edges between them.
 */
final class Request {
    static final byte OP_READ = 1;
    static final byte OP_WRITE = 2;
    static final byte OP_READV = 3;
    static final byte OP_WRITEV = 4;
    static final byte OP_FSYNC = 5;
    static final byte OP_FDATASYNC = 6;
    /** Thread pool only: run a {@link BlockingCall}. */
    static final byte OP_CALL = 7;

    /** In the pool's free list. */
    static final byte FREE = 0;
    /** Accepted, waiting in the engine (not yet handed to the kernel or a worker): cancellable. */
    static final byte QUEUED = 1;
    /** Handed to the kernel or running on a worker. */
    static final byte STARTED = 2;
    /** Finished; {@link #result} is final and the slot waits to be delivered. */
    static final byte DONE = 3;

    final int index;
    /** Engine-specific native memory of this slot (iocb, iovec, ...); may be {@link MemorySegment#NULL}. */
    final MemorySegment scratch;
    /** {@code scratch.address()}, for raw-address system calls. */
    final long scratchAddress;

    int generation;
    byte op;
    byte state = FREE;
    int fd;
    long offset;
    /** Kernel {@code RWF_*} flags (FUA already mapped to {@code RWF_DSYNC}). */
    int rwFlags;
    MemorySegment buffer;
    MemorySegment iov;
    /**
     * Raw addresses of {@link #buffer} / {@link #iov}, taken on the owner thread. Pool workers use only these:
     * the FFM linker refuses to pass a segment of an arena confined to the owner thread to a downcall, or to access
     * it, from any other thread ({@link WrongThreadException}), and wrapping an address in a new segment allocates.
     */
    long bufferAddress;
    long iovAddress;
    /** The segment whose arena this request keeps open ({@link #pinArena}), or null. */
    private MemorySegment pinned;
    int iovCount;
    /** Bytes requested in all. */
    long length;
    /** Bytes moved by earlier rounds of this request (io_uring resubmits short reads for the rest). */
    long done;
    long result;
    CompletionHandler handler;
    long tag;
    BlockingCall call;
    /** What a {@link BlockingCall} threw; rethrown on the owner thread after delivery. */
    Throwable callFailure;
    /**
     * io_uring: the iovec for the rest of a short vectored read, allocated from the engine's memory on first need
     * and kept with the slot (not cleared on release) for its later ones.
     */
    MemorySegment resubmitIov;
    /**
     * io_uring: the request's iovec array was gone (its arena closed) when its SQE was written, so a NOP went in
     * its place and it completes with {@code -EFAULT}. Owner thread; cleared when it completes.
     */
    boolean memoryGone;

    Request prev;
    Request next;
    RequestQueue queue;
    Request nextFree;
    Request nextDone;

    Request(int index, MemorySegment scratch) {
        this.index = index;
        this.scratch = scratch;
        this.scratchAddress = scratch.address();
    }

    /** The id handed to the caller: generation in the high half, slot index in the low half. */
    long id() {
        return ((long) generation << 32) | (index & 0xffff_ffffL);
    }

    static int indexOf(long id) {
        return (int) id;
    }

    static int generationOf(long id) {
        return (int) (id >>> 32);
    }

    boolean isRead() {
        return op == OP_READ || op == OP_READV;
    }

    boolean isTransfer() {
        return op >= OP_READ && op <= OP_WRITEV;
    }

    boolean isVectored() {
        return op == OP_READV || op == OP_WRITEV;
    }

    /** Fills a linear read or write; the arguments were checked by {@link #checkLinear}. */
    void prepareLinear(byte op, int fd, MemorySegment buffer, long offset, int flags) {
        this.op = op;
        this.fd = fd;
        this.buffer = buffer;
        this.bufferAddress = buffer.address();
        this.offset = offset;
        this.rwFlags = rwFlags(flags);
        this.length = buffer.byteSize();
        this.done = 0;
    }

    /** Fills a vectored read or write of {@code length} bytes; checked by {@link #checkVectored}. */
    void prepareVectored(byte op, int fd, MemorySegment iov, int iovCount, long length, long offset, int flags) {
        this.op = op;
        this.fd = fd;
        this.iov = iov;
        this.iovAddress = iov.address();
        this.iovCount = iovCount;
        this.length = length;
        this.offset = offset;
        this.rwFlags = rwFlags(flags);
        this.done = 0;
    }

    void prepareSync(byte op, int fd) {
        this.op = op;
        this.fd = fd;
        this.offset = 0;
        this.rwFlags = 0;
        this.length = 0;
        this.done = 0;
    }

    void prepareCall(BlockingCall call) {
        this.op = OP_CALL;
        this.call = call;
        this.fd = -1;
        this.length = 0;
        this.done = 0;
    }

    /**
     * Keeps {@code memory}'s arena open until {@link #clear()}: a close meanwhile throws instead of freeing what the
     * kernel or a pool worker may still write ({@link ArenaPins}). Memory confined to another thread cannot be pinned
     * here (only its owner can take the count): keeping it open is that thread's part, as {@link IoEngine}'s rule
     * says; {@code BlockBackend} pins such buffers on their owner's thread. Owner thread, at admission.
     *
     * @throws IllegalStateException if the arena was closed since the argument checks
     */
    void pinArena(MemorySegment memory) {
        if (ArenaPins.pinUnlessConfinedElsewhere(memory)) {
            pinned = memory;
        }
    }

    /** Forgets every reference the caller handed in, so a free slot keeps nothing alive, and releases its pin. */
    void clear() {
        if (pinned != null) {
            ArenaPins.unpin(pinned);
            pinned = null;
        }
        buffer = null;
        iov = null;
        handler = null;
        call = null;
        callFailure = null;
        iovCount = 0;
        prev = null;
        next = null;
        queue = null;
        nextDone = null;
    }

    /**
     * The result of a transfer that moved {@code total} bytes over all its rounds: the full length; for a read that
     * came back short (end of file) the rest of the buffer is zeroed first; a short write is {@code -ENOSPC}.
     */
    long finishTransfer(long total) {
        if (total >= length) {
            return length;
        }
        if (isRead()) {
            return zeroFill(total);
        }
        return -Errno.ENOSPC;
    }

    /**
     * The result of a round that failed with {@code -errno} after {@link #done} bytes had already been read.
     * An {@code O_DIRECT} read whose remainder starts at an unaligned offset (because an earlier round ended at an
     * unaligned end of file) fails with {@code EINVAL}; as in QEMU's thread pool that means end of file.
     */
    long finishError(long negativeErrno) {
        if (negativeErrno == -Errno.EINVAL && isRead() && done > 0) {
            return zeroFill(done);
        }
        return negativeErrno;
    }

    /**
     * Zeroes the request's buffers from byte {@code from} (counted over the whole request) to the end and returns
     * the request's length; or returns {@code -EFAULT} when the caller's memory is gone (freed before the
     * completion, against {@link IoEngine}'s rule), so that the request fails as the kernel's own copy would have,
     * instead of the reaping call failing and the request never being delivered. Owner thread.
     */
    long zeroFill(long from) {
        if (from >= length) {
            return length;
        }
        if (!isVectored()) {
            if (!buffer.scope().isAlive()) {
                return -Errno.EFAULT;
            }
            if (buffer.isAccessibleBy(Thread.currentThread())) {
                try {
                    buffer.asSlice(from).fill((byte) 0);
                    return length;
                } catch (IllegalStateException closedMeanwhile) {
                    return -Errno.EFAULT;
                }
            }
            // Confined to another thread (the caller of a blocking API, waiting for this request): not ours to
            // access through the segment, so through its address, as the kernel does.
        }
        return zeroFillThroughKernel(from);
    }

    /**
     * Zeroes from byte {@code from} through the buffers' bare addresses (an iovec holds nothing else), with the
     * zeroes coming from the kernel ({@code /dev/zero}) rather than from a store in Java: memory the caller unmapped
     * then fails with {@code -EFAULT} instead of crashing the JVM. A rare path (a read that crosses the end of the
     * file), so opening {@code /dev/zero} per call costs nothing that matters, and the engine keeps no descriptor.
     */
    private long zeroFillThroughKernel(long from) {
        int zeroes;
        try {
            zeroes = FileIo.open("/dev/zero", OpenFlags.O_RDONLY | OpenFlags.O_CLOEXEC, 0);
        } catch (NativeCallException e) {
            return -e.errno();
        }
        try {
            if (!isVectored()) {
                return readZeroes(zeroes, buffer.address() + from, length - from);
            }
            MemorySegment array = readableIovArray();
            long skip = from;
            for (int i = 0; i < iovCount; i++) {
                long base = array.get(JAVA_LONG, i * IoVec.SIZE);
                long len = array.get(JAVA_LONG, i * IoVec.SIZE + 8);
                if (skip >= len) {
                    skip -= len;
                    continue;
                }
                long ret = readZeroes(zeroes, base + skip, len - skip);
                if (ret < 0) {
                    return ret;
                }
                skip = 0;
            }
            return length;
        } catch (IllegalStateException | WrongThreadException iovArrayGone) {
            return -Errno.EFAULT;
        } finally {
            FileIo.closeOrErrno(zeroes);
        }
    }

    /**
     * The iovec array, readable on this thread: the caller's segment, or the same memory through its address when the
     * segment is confined to another thread (a caller waiting for the request, or an owner that ended before another
     * thread closed the engine). Read through the confined segment, the second threw {@link WrongThreadException}
     * out of the reaping pass, which lost that pass's other completions, and the pool's close waited for them for
     * ever (session 26). An array whose arena is closed throws {@link IllegalStateException} (the caller answers
     * {@code -EFAULT}).
     */
    private MemorySegment readableIovArray() {
        SegmentBounds.checkAlive(iov, false, "iovec array");
        return iov.isAccessibleBy(Thread.currentThread()) ? iov
                : MemorySegment.ofAddress(iov.address()).reinterpret(iov.byteSize());
    }

    /** Reads {@code count} zeroes from {@code zeroes} to {@code address}; returns the request's length or -errno. */
    private long readZeroes(int zeroes, long address, long count) {
        while (count > 0) {
            long n = FileIo.readOrErrno(zeroes, address, count);
            if (n == -Errno.EINTR) {
                continue;
            }
            if (n <= 0) {
                return n < 0 ? n : -Errno.EIO;
            }
            address += n;
            count -= n;
        }
        return length;
    }

    static int rwFlags(int flags) {
        return (flags & IoEngine.FUA) != 0 ? FileIo.RWF_DSYNC : 0;
    }

    /**
     * Checks the arguments of a linear transfer; throws {@link IllegalArgumentException} for bad ones, and
     * {@link IllegalStateException} for a buffer whose arena is closed.
     * {@code intoBuffer}: the request writes the buffer (a read), so a read-only segment is refused.
     */
    static void checkLinear(MemorySegment buffer, long offset, int flags, boolean intoBuffer) {
        checkNative(buffer, "buffer");
        checkUsable(buffer, "buffer");
        if (intoBuffer && buffer.isReadOnly()) {
            throw new IllegalArgumentException("read into a read-only buffer");
        }
        if (buffer.byteSize() > IoEngine.MAX_TRANSFER) {
            throw new IllegalArgumentException("buffer larger than " + IoEngine.MAX_TRANSFER + " bytes");
        }
        checkOffsetAndFlags(offset, flags);
    }

    /** Checks the arguments of a vectored transfer and returns the sum of the iovec lengths. */
    static long checkVectored(MemorySegment iov, int iovCount, long offset, int flags) {
        checkNative(iov, "iovec array");
        checkUsable(iov, "iovec array");
        checkOffsetAndFlags(offset, flags);
        if (iovCount < 1 || iovCount > IoEngine.MAX_IOV) {
            throw new IllegalArgumentException("iovCount " + iovCount + " outside 1.." + IoEngine.MAX_IOV);
        }
        if (iov.byteSize() < iovCount * IoVec.SIZE) {
            throw new IllegalArgumentException("iovec array holds fewer than " + iovCount + " elements");
        }
        long total = 0;
        for (int i = 0; i < iovCount; i++) {
            long len = iov.get(JAVA_LONG, i * IoVec.SIZE + 8);
            if (len < 0) {
                throw new IllegalArgumentException("iovec " + i + " has a negative length");
            }
            if (len > IoEngine.MAX_TRANSFER - total) { // not total + len: a huge element wrapped it negative
                throw new IllegalArgumentException("vectored request larger than " + IoEngine.MAX_TRANSFER + " bytes");
            }
            total += len;
        }
        return total;
    }

    private static void checkOffsetAndFlags(long offset, int flags) {
        if (offset < 0) {
            throw new IllegalArgumentException("negative offset " + offset);
        }
        if ((flags & ~IoEngine.FUA) != 0) {
            throw new IllegalArgumentException("unknown request flags 0x" + Integer.toHexString(flags));
        }
    }

    /**
     * The memory is there: its arena is open. (A segment confined to another thread is accepted: the engine passes
     * on only its address, and the thread that owns it may be the one waiting for the request, as a caller of
     * {@code BlockBackend}'s blocking API is.)
     */
    private static void checkUsable(MemorySegment segment, String what) {
        SegmentBounds.checkAlive(segment, false, what); // another thread's confined segment is accepted (see class)
    }

    private static void checkNative(MemorySegment segment, String what) {
        if (!segment.isNative()) {
            throw new IllegalArgumentException(what + " must be native memory (the kernel reads it asynchronously)");
        }
    }
}
