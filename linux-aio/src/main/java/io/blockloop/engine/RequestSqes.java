package io.blockloop.engine;

import io.blockloop.ffm.liburing.generated.LibUring;
import io.blockloop.ffm.liburing.Sqe;
import io.blockloop.ffm.libc.IoVec;

import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Writes an {@link IoUringEngine}'s requests into SQEs: the operation, continued after {@code done} bytes for a short
 * read sent back for its rest, and {@code READ_FIXED}/{@code WRITE_FIXED} for the memory of one registered buffer
 * ({@link FixedBuffers}). The SQE's user data is the request's slot index, ORed with the loop's ring's tag when the
 * engine shares that ring.
 *
 * <p>Threads: the engine's owner thread, which owns the SQ side of the ring and the request slots.
 */
final class RequestSqes {
    /**
     * The slot index in the user data of the doorbell ({@link #writeDoorbell}): no request slot has it, since slots
     * are counted in an {@code int} and allocated from 0.
     */
    static final long DOORBELL_INDEX = 0xFFFF_FFFFL;

    private final FixedBuffers fixed;
    /** Where the resubmit iovec arrays of short vectored reads come from: the engine's memory. */
    private final EngineMemory memory;
    /** ORed into every SQE's user data: 0 on an own ring, the shared ring's client tag on the loop's. */
    private final long userDataTag;

    RequestSqes(FixedBuffers fixed, EngineMemory memory, long userDataTag) {
        this.fixed = fixed;
        this.memory = memory;
        this.userDataTag = userDataTag;
    }

    /**
     * Writes the SQE for {@code r}, continuing after {@code r.done} bytes for a resubmitted short read. A read or
     * write of one piece of memory inside a registered buffer becomes {@code READ_FIXED}/{@code WRITE_FIXED}.
     */
    void write(MemorySegment sqe, Request r) {
        try {
            prepareOp(sqe, r);
        } catch (IllegalStateException | WrongThreadException memoryGone) {
            // The iovec array, read here for one-element vectors and short-read remainders, was freed while the
            // request waited (against IoEngine's rule). The SQE is taken: a NOP with this request's user data goes
            // in its place, and the request alone fails with EFAULT, as the kernel fails a request whose memory is
            // gone. Before, the exception left an empty SQE (user data 0) that completed another request early,
            // and this one was never delivered.
            Sqe.prepNop(sqe);
            r.memoryGone = true;
        }
        Sqe.setUserData(sqe, r.index | userDataTag);
    }

    /**
     * A NOP whose completion only makes the completion fd readable (the ring fd, or the loop's report of it): the
     * engine's way to signal a completion it made without the kernel, as the other engines write their eventfd.
     */
    void writeDoorbell(MemorySegment sqe) {
        Sqe.prepNop(sqe);
        Sqe.setUserData(sqe, DOORBELL_INDEX | userDataTag);
    }

    private void prepareOp(MemorySegment sqe, Request r) {
        long done = r.done;
        switch (r.op) {
            case Request.OP_READ -> prepRead(sqe, r.fd, r.buffer.address() + done, r.length - done, r.offset + done);
            case Request.OP_WRITE -> {
                prepWrite(sqe, r.fd, r.buffer.address(), r.length, r.offset);
                Sqe.setRwFlags(sqe, r.rwFlags); // RWF_DSYNC for FUA
            }
            case Request.OP_READV -> {
                if (done == 0 && r.iovCount == 1) {
                    prepRead(sqe, r.fd, r.iov.get(JAVA_LONG, 0), r.iov.get(JAVA_LONG, 8), r.offset);
                } else if (done == 0) {
                    Sqe.prepReadv(sqe, r.fd, r.iov.address(), r.iovCount, r.offset, 0);
                } else {
                    int count = remainderIov(r);
                    Sqe.prepReadv(sqe, r.fd, r.resubmitIov.address(), count, r.offset + done, 0);
                }
            }
            case Request.OP_WRITEV -> {
                if (r.iovCount == 1) {
                    prepWrite(sqe, r.fd, r.iov.get(JAVA_LONG, 0), r.iov.get(JAVA_LONG, 8), r.offset);
                    Sqe.setRwFlags(sqe, r.rwFlags);
                } else {
                    Sqe.prepWritev(sqe, r.fd, r.iov.address(), r.iovCount, r.offset, r.rwFlags);
                }
            }
            case Request.OP_FSYNC -> Sqe.prepFsync(sqe, r.fd, 0);
            case Request.OP_FDATASYNC -> Sqe.prepFsync(sqe, r.fd, LibUring.IORING_FSYNC_DATASYNC());
            default -> throw new AssertionError("unknown op " + r.op);
        }
    }

    /** {@code READ_FIXED} when the memory lies in a registered buffer, else {@code READ}. */
    private void prepRead(MemorySegment sqe, int fd, long address, long length, long offset) {
        int index = fixed.indexOf(address, length);
        if (index >= 0) {
            Sqe.prepReadFixed(sqe, fd, address, (int) length, offset, index);
        } else {
            Sqe.prepRead(sqe, fd, address, (int) length, offset);
        }
    }

    /** {@code WRITE_FIXED} when the memory lies in a registered buffer, else {@code WRITE}. */
    private void prepWrite(MemorySegment sqe, int fd, long address, long length, long offset) {
        int index = fixed.indexOf(address, length);
        if (index >= 0) {
            Sqe.prepWriteFixed(sqe, fd, address, (int) length, offset, index);
        } else {
            Sqe.prepWrite(sqe, fd, address, (int) length, offset);
        }
    }

    /**
     * Fills the slot's resubmit iovec with the part of {@code r}'s iovec after {@code r.done} bytes (QEMU's
     * {@code resubmit_qiov}); returns its element count. The array is allocated on the first short vectored read
     * of the slot and kept for its later ones.
     */
    private int remainderIov(Request r) {
        if (r.resubmitIov == null || r.resubmitIov.byteSize() < r.iovCount * IoVec.SIZE) {
            r.resubmitIov = memory.allocate(Math.max(r.iovCount, 4) * IoVec.SIZE, 8);
        }
        long skip = r.done;
        int count = 0;
        for (int i = 0; i < r.iovCount; i++) {
            long base = r.iov.get(JAVA_LONG, i * IoVec.SIZE);
            long len = r.iov.get(JAVA_LONG, i * IoVec.SIZE + 8);
            if (skip >= len) {
                skip -= len;
                continue;
            }
            IoVec.set(r.resubmitIov, count++, base + skip, len - skip);
            skip = 0;
        }
        return count;
    }
}
