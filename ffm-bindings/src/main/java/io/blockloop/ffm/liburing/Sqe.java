package io.blockloop.ffm.liburing;

import io.blockloop.ffm.liburing.generated.LibUring;
import io.blockloop.ffm.liburing.generated.io_uring_sqe;
import io.blockloop.ffm.memory.SegmentBounds;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/**
 * Fills submission queue entries: the Java form of liburing 2.3's {@code static inline io_uring_prep_*} helpers,
 * field for field, through the jextract-generated {@code io_uring_sqe} layout.
 *
 * <p>Every method takes an SQE obtained from {@link IoUringRing#nextSqe()} and writes it with plain stores; none
 * allocates. The stores become visible to the kernel through the release store of the SQ tail in
 * {@link IoUringRing#submit()} (see there), never by themselves, so an SQE may be filled in any order until it
 * is submitted. As in liburing, {@link #prepRw} writes every field except {@code user_data}: set that with
 * {@link #setUserData} after the prep call, the SQE flags with {@link #setFlags} and a read's or write's
 * {@code RWF_*} flags with {@link #setRwFlags} (prep resets both to 0).
 *
 * <p>Threads: the SQE belongs to the ring's submitter thread, so these methods are called on that thread, between
 * {@code nextSqe()} and {@code submit()}. Opcode constants come from the generated {@code LibUring} class; that is
 * safe here because an SQE can only come from a ring, and creating a ring checked that {@code liburing.so.2} is
 * loaded.
 *
 * <p>Addresses ({@code addr}) are native addresses ({@link MemorySegment#address()}): the memory must stay alive
 * until the request's CQE has been seen; the kernel reads or writes it asynchronously.
 *
 * <p>A prep call that refuses its arguments does so after {@code nextSqe()} took the slot, which the ring cannot
 * give back: the SQE stays as {@code nextSqe()} left it, zeroed, a NOP with user data 0 that goes out with the next
 * submit. Make it a NOP of your own ({@link #prepNop}, {@link #setUserData}) or treat user data 0 as nothing, as
 * BlockLoop's engines and monitor do.
 */
public final class Sqe {
    private static final boolean BIG_ENDIAN = ByteOrder.nativeOrder() == ByteOrder.BIG_ENDIAN;

    private Sqe() {
    }

    /**
     * liburing's {@code io_uring_prep_rw}: sets opcode, fd, addr, len and offset; zeroes flags, ioprio, the
     * per-opcode flags word ({@code rw_flags} and its union), buf_index, personality, file_index and addr3.
     */
    public static void prepRw(int op, MemorySegment sqe, int fd, long addr, int len, long offset) {
        io_uring_sqe.opcode(sqe, (byte) op);
        io_uring_sqe.flags(sqe, (byte) 0);
        io_uring_sqe.ioprio(sqe, (short) 0);
        io_uring_sqe.fd(sqe, fd);
        io_uring_sqe.off(sqe, offset);
        io_uring_sqe.addr(sqe, addr);
        io_uring_sqe.len(sqe, len);
        io_uring_sqe.rw_flags(sqe, 0);
        io_uring_sqe.buf_index(sqe, (short) 0);
        io_uring_sqe.personality(sqe, (short) 0);
        io_uring_sqe.file_index(sqe, 0);
        io_uring_sqe.addr3(sqe, 0L);
        io_uring_sqe.__pad2(sqe, 0L, 0L);
    }

    /** {@code IORING_OP_NOP}: completes with res 0 without doing anything. */
    public static void prepNop(MemorySegment sqe) {
        prepRw(LibUring.IORING_OP_NOP(), sqe, -1, 0L, 0, 0L);
    }

    /**
     * {@code IORING_OP_READ}: {@code pread(fd, addr, len, offset)}; offset -1 means the file position.
     *
     * @throws IllegalArgumentException when {@code len} is negative (the SQE's {@code len} is unsigned: -1 reached
     *                                  the kernel as 4 GiB - 1)
     */
    public static void prepRead(MemorySegment sqe, int fd, long addr, int len, long offset) {
        checkLength(len, "prepRead");
        prepRw(LibUring.IORING_OP_READ(), sqe, fd, addr, len, offset);
    }

    /**
     * {@link #prepRead(MemorySegment, int, long, int, long)} into the whole of {@code buffer}.
     *
     * @throws IllegalArgumentException when {@code buffer} is read-only ({@link MemorySegment#asReadOnly()}: the
     *                                  kernel would write into it), not native (a heap segment's address is an
     *                                  offset into its array) or larger than {@link Integer#MAX_VALUE} bytes
     * @throws IllegalStateException    when {@code buffer}'s arena is closed (the SQE keeps only the address, and the
     *                                  kernel wrote into another arena's memory there)
     * @throws WrongThreadException     when {@code buffer} is confined to another thread
     */
    public static void prepRead(MemorySegment sqe, int fd, MemorySegment buffer, long offset) {
        SegmentBounds.checkAlive(buffer, true, "prepRead");
        SegmentBounds.checkWritable(buffer, "prepRead");
        prepRead(sqe, fd, buffer.address(), nativeLength(buffer, "prepRead"), offset);
    }

    /**
     * {@code IORING_OP_WRITE}: {@code pwrite(fd, addr, len, offset)}.
     *
     * @throws IllegalArgumentException as {@link #prepRead(MemorySegment, int, long, int, long)}
     */
    public static void prepWrite(MemorySegment sqe, int fd, long addr, int len, long offset) {
        checkLength(len, "prepWrite");
        prepRw(LibUring.IORING_OP_WRITE(), sqe, fd, addr, len, offset);
    }

    /**
     * {@link #prepWrite(MemorySegment, int, long, int, long)} from the whole of {@code buffer}.
     *
     * @throws IllegalArgumentException when {@code buffer} is not native or larger than {@link Integer#MAX_VALUE}
     *                                  bytes
     * @throws IllegalStateException    as {@link #prepRead(MemorySegment, int, MemorySegment, long)}
     * @throws WrongThreadException     as {@link #prepRead(MemorySegment, int, MemorySegment, long)}
     */
    public static void prepWrite(MemorySegment sqe, int fd, MemorySegment buffer, long offset) {
        SegmentBounds.checkAlive(buffer, true, "prepWrite");
        prepWrite(sqe, fd, buffer.address(), nativeLength(buffer, "prepWrite"), offset);
    }

    /**
     * {@code buffer}'s size as the SQE's length, for a buffer the kernel can reach: a heap segment's
     * {@link MemorySegment#address()} is an offset into its array, and went to the kernel as a user address.
     */
    private static int nativeLength(MemorySegment buffer, String what) {
        if (!buffer.isNative()) {
            throw new IllegalArgumentException(what + ": a heap segment; the kernel needs native memory");
        }
        long size = buffer.byteSize();
        if (size > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(what + ": a segment of " + size + " bytes; at most "
                    + Integer.MAX_VALUE);
        }
        return (int) size;
    }

    private static void checkLength(int len, String what) {
        if (len < 0) {
            throw new IllegalArgumentException(what + ": negative length " + len);
        }
    }

    /**
     * {@code IORING_OP_READV}: {@code preadv2(fd, iovecs, count, offset, rwFlags)} (liburing's
     * {@code io_uring_prep_readv2}). {@code iovecs} is the address of {@code count} {@code struct iovec}s.
     */
    public static void prepReadv(MemorySegment sqe, int fd, long iovecs, int count, long offset, int rwFlags) {
        prepRw(LibUring.IORING_OP_READV(), sqe, fd, iovecs, count, offset);
        setRwFlags(sqe, rwFlags);
    }

    /** {@code IORING_OP_WRITEV}: {@code pwritev2(fd, iovecs, count, offset, rwFlags)} (liburing's {@code io_uring_prep_writev2}). */
    public static void prepWritev(MemorySegment sqe, int fd, long iovecs, int count, long offset, int rwFlags) {
        prepRw(LibUring.IORING_OP_WRITEV(), sqe, fd, iovecs, count, offset);
        setRwFlags(sqe, rwFlags);
    }

    /**
     * {@code IORING_OP_READ_FIXED}: a read into registered buffer {@code bufIndex}; {@code addr} lies inside it.
     *
     * @throws IllegalArgumentException when {@code bufIndex} is outside {@code 0..65535} (the SQE's 16-bit
     *                                  {@code buf_index}: 65536 became 0, another registered buffer), or {@code len}
     *                                  is negative
     */
    public static void prepReadFixed(MemorySegment sqe, int fd, long addr, int len, long offset, int bufIndex) {
        checkBufIndex(bufIndex, "prepReadFixed");
        checkLength(len, "prepReadFixed");
        prepRw(LibUring.IORING_OP_READ_FIXED(), sqe, fd, addr, len, offset);
        io_uring_sqe.buf_index(sqe, (short) bufIndex);
    }

    /**
     * {@code IORING_OP_WRITE_FIXED}: a write from registered buffer {@code bufIndex}.
     *
     * @throws IllegalArgumentException as {@link #prepReadFixed}
     */
    public static void prepWriteFixed(MemorySegment sqe, int fd, long addr, int len, long offset, int bufIndex) {
        checkBufIndex(bufIndex, "prepWriteFixed");
        checkLength(len, "prepWriteFixed");
        prepRw(LibUring.IORING_OP_WRITE_FIXED(), sqe, fd, addr, len, offset);
        io_uring_sqe.buf_index(sqe, (short) bufIndex);
    }

    private static void checkBufIndex(int bufIndex, String what) {
        if ((bufIndex & ~0xFFFF) != 0) {
            throw new IllegalArgumentException(what + ": buffer index " + bufIndex + " outside 0..65535");
        }
    }

    /** {@code IORING_OP_FSYNC}; {@code flags} 0 for fsync, {@code IORING_FSYNC_DATASYNC} for fdatasync. */
    public static void prepFsync(MemorySegment sqe, int fd, int flags) {
        prepRw(LibUring.IORING_OP_FSYNC(), sqe, fd, 0L, 0, 0L);
        io_uring_sqe.fsync_flags(sqe, flags);
    }

    /**
     * {@code IORING_OP_POLL_ADD}: one-shot poll of {@code fd} for {@code mask} ({@code POLLIN}, ...); the CQE's
     * res is the ready mask. As liburing, the 32-bit mask is stored half-word swapped on big-endian machines.
     */
    public static void prepPollAdd(MemorySegment sqe, int fd, int mask) {
        prepRw(LibUring.IORING_OP_POLL_ADD(), sqe, fd, 0L, 0, 0L);
        io_uring_sqe.poll32_events(sqe, BIG_ENDIAN ? Integer.rotateLeft(mask, 16) : mask);
    }

    /** {@code IORING_OP_POLL_REMOVE}: cancels the poll whose user_data is {@code targetUserData}. */
    public static void prepPollRemove(MemorySegment sqe, long targetUserData) {
        prepRw(LibUring.IORING_OP_POLL_REMOVE(), sqe, -1, 0L, 0, 0L);
        io_uring_sqe.addr(sqe, targetUserData);
    }

    /**
     * {@code IORING_OP_TIMEOUT}: completes after the {@code struct __kernel_timespec} at {@code timespecAddr}
     * elapses (res {@code -ETIME}) or once {@code count} other completions have been posted (res 0);
     * {@code flags} are {@code IORING_TIMEOUT_*}. The timespec must stay alive until submission returns.
     */
    public static void prepTimeout(MemorySegment sqe, long timespecAddr, int count, int flags) {
        prepRw(LibUring.IORING_OP_TIMEOUT(), sqe, -1, timespecAddr, 1, count);
        io_uring_sqe.timeout_flags(sqe, flags);
    }

    /** {@code IORING_OP_TIMEOUT_REMOVE}: cancels the timeout whose user_data is {@code targetUserData}. */
    public static void prepTimeoutRemove(MemorySegment sqe, long targetUserData, int flags) {
        prepRw(LibUring.IORING_OP_TIMEOUT_REMOVE(), sqe, -1, 0L, 0, 0L);
        io_uring_sqe.addr(sqe, targetUserData);
        io_uring_sqe.timeout_flags(sqe, flags);
    }

    /**
     * {@code IORING_OP_ASYNC_CANCEL} (liburing's {@code io_uring_prep_cancel64}): cancels the request whose
     * user_data is {@code targetUserData}; res 0 when found and cancelled, {@code -ENOENT} when not found,
     * {@code -EALREADY} when it was already running.
     */
    public static void prepCancel(MemorySegment sqe, long targetUserData, int flags) {
        prepRw(LibUring.IORING_OP_ASYNC_CANCEL(), sqe, -1, 0L, 0, 0L);
        io_uring_sqe.addr(sqe, targetUserData);
        io_uring_sqe.cancel_flags(sqe, flags);
    }

    /** The {@code user_data} set on this SQE. */
    public static long userData(MemorySegment sqe) {
        return io_uring_sqe.user_data(sqe);
    }

    /** The value the CQE of this request will carry in {@code user_data}. */
    public static void setUserData(MemorySegment sqe, long userData) {
        io_uring_sqe.user_data(sqe, userData);
    }

    /**
     * The per-request {@code RWF_*} flags of a read or write ({@code FileIo.RWF_DSYNC} makes a write durable when it
     * completes: FUA): the {@code rw_flags} member of the SQE's per-opcode flags union, which every prep call zeroes,
     * so set it after the prep call. Only meaningful for the read and write opcodes; for the others the same word is
     * their own flags ({@code fsync_flags}, {@code poll32_events}, ...).
     */
    public static void setRwFlags(MemorySegment sqe, int rwFlags) {
        io_uring_sqe.rw_flags(sqe, rwFlags);
    }

    /** The {@code IOSQE_*} flags ({@code IOSQE_FIXED_FILE}, {@code IOSQE_IO_LINK}, ...). */
    public static void setFlags(MemorySegment sqe, int flags) {
        io_uring_sqe.flags(sqe, (byte) flags);
    }
}
