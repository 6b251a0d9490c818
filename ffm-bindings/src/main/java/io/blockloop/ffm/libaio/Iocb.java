package io.blockloop.ffm.libaio;

import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * {@code struct iocb} of the kernel ABI ({@code linux/aio_abi.h}, little-endian x86-64, 64 bytes), written
 * directly: libaio's {@code io_prep_*} helpers are {@code static inline}.
 *
 * <pre>
 *  0 u64 aio_data        8 u32 aio_key       12 u32 aio_rw_flags (RWF_*)
 * 16 u16 aio_lio_opcode 18 s16 aio_reqprio  20 u32 aio_fildes
 * 24 u64 aio_buf        32 u64 aio_nbytes   40 s64 aio_offset
 * 48 u64 aio_reserved2  56 u32 aio_flags    60 u32 aio_resfd
 * </pre>
 * For the vectored opcodes {@code aio_buf} is the iovec array and {@code aio_nbytes} its length.
 *
 * <p>Thread safety: an iocb is written by its owner before {@code io_submit} and must stay untouched
 * until its completion has been reaped; the syscall orders the writes before the kernel reads them.
 */
public final class Iocb {
    public static final long SIZE = 64;
    public static final short IOCB_CMD_PREAD = 0;
    public static final short IOCB_CMD_PWRITE = 1;
    public static final short IOCB_CMD_FSYNC = 2;
    public static final short IOCB_CMD_FDSYNC = 3;
    public static final short IOCB_CMD_POLL = 5;
    public static final short IOCB_CMD_NOOP = 6;
    public static final short IOCB_CMD_PREADV = 7;
    public static final short IOCB_CMD_PWRITEV = 8;
    /** {@code aio_flags}: signal {@code aio_resfd} (an eventfd) on completion. */
    public static final int IOCB_FLAG_RESFD = 1;

    private Iocb() {
    }

    /**
     * Fills {@code iocb} completely (every field, so a reused iocb carries nothing over).
     *
     * @param buffer  the buffer address, or the iovec array address for PREADV/PWRITEV
     * @param nbytes  byte count, or iovec count for PREADV/PWRITEV
     * @param resfd   eventfd to signal, or -1 for none
     */
    public static void prepare(MemorySegment iocb, short opcode, int fd, long buffer, long nbytes, long offset,
                               int rwFlags, long data, int resfd) {
        iocb.set(JAVA_LONG, 0, data);
        iocb.set(JAVA_INT, 8, 0);
        iocb.set(JAVA_INT, 12, rwFlags);
        iocb.set(JAVA_SHORT, 16, opcode);
        iocb.set(JAVA_SHORT, 18, (short) 0);
        iocb.set(JAVA_INT, 20, fd);
        iocb.set(JAVA_LONG, 24, buffer);
        iocb.set(JAVA_LONG, 32, nbytes);
        iocb.set(JAVA_LONG, 40, offset);
        iocb.set(JAVA_LONG, 48, 0L);
        iocb.set(JAVA_INT, 56, resfd >= 0 ? IOCB_FLAG_RESFD : 0);
        iocb.set(JAVA_INT, 60, resfd >= 0 ? resfd : 0);
    }

    public static long data(MemorySegment iocb) {
        return iocb.get(JAVA_LONG, 0);
    }
}
