package io.blockloop.engine;

import io.blockloop.ffm.errno.Errno;
import io.blockloop.ffm.libc.FileIo;
import io.blockloop.ffm.libc.IoVec;

import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * What a {@link ThreadPoolEngine} worker does with one request: the blocking system calls, retried and continued
 * the way QEMU's {@code handle_aiocb_rw} does.
 *
 * <p>For a transfer the worker leaves the bytes moved in {@code Request.done} and, in {@code Request.result},
 * either that count or the negative errno that stopped it; the owner thread turns that into the final result
 * ({@code Request.finishTransfer}/{@code finishError}) when it delivers, because zero-filling touches the caller's
 * buffer, which may belong to an arena confined to the owner thread.
 *
 * <p>Allocation-free by construction, not by escape analysis: the worker never touches the caller's segments (a
 * segment confined to the owner thread would throw {@link WrongThreadException} in a downcall, and wrapping its
 * address in a new segment per call allocates). It passes the raw addresses the owner took
 * ({@code Request.bufferAddress}, {@code iovAddress}) to the raw-address forms of {@link FileIo}, and reads iovec
 * entries through {@link #ADDRESS_SPACE}. Reads capture errno only after a failure; writes and flushes capture it
 * on every call (the JDK slices the capture segment per call, a 40-byte object that C2 scalar-replaces): see
 * {@link FileIo}.
 *
 * <p>Threads: runs on a worker, with the request handed over under the pool lock (see {@link ThreadPoolEngine}).
 * Touches the request's scalar fields and its slot scratch (engine memory, a shared arena). Stateless.
 */
final class PoolWork {
    /**
     * The whole address space as one segment, to read the caller's iovec entries by raw address without a
     * segment per request. Reads through it are unchecked: the addresses come from a checked iovec array.
     */
    @SuppressWarnings("restricted")
    private static final MemorySegment ADDRESS_SPACE = MemorySegment.NULL.reinterpret(Long.MAX_VALUE);

    private PoolWork() {
    }

    static void run(Request r) {
        try {
            r.result = switch (r.op) {
                case Request.OP_READ, Request.OP_WRITE -> linear(r);
                case Request.OP_READV, Request.OP_WRITEV -> vectored(r);
                case Request.OP_FSYNC -> retryingSync(r.fd, false);
                case Request.OP_FDATASYNC -> retryingSync(r.fd, true);
                case Request.OP_CALL -> r.call.run();
                default -> throw new IllegalStateException("unknown op " + r.op);
            };
        } catch (Throwable t) {
            r.callFailure = t;
            r.result = -Errno.EIO;
        }
    }

    private static long retryingSync(int fd, boolean dataOnly) {
        for (;;) {
            int ret = dataOnly ? FileIo.fdatasyncOrErrno(fd) : FileIo.fsyncOrErrno(fd);
            if (ret != -Errno.EINTR) {
                return ret;
            }
        }
    }

    /** A linear read or write: loops until done, end of file / no progress, or an error. */
    private static long linear(Request r) {
        boolean read = r.isRead();
        long total = 0;
        while (total < r.length) {
            long ret = transfer(r, read, r.bufferAddress + total, r.length - total, r.offset + total);
            if (ret == -Errno.EINTR) {
                continue;
            }
            if (ret < 0) {
                r.done = total;
                return ret;
            }
            if (ret == 0) {
                break; // end of file for a read; no progress for a write
            }
            total += ret;
        }
        r.done = total;
        return total;
    }

    /**
     * One {@code pread}/{@code pwrite} (or {@code pwritev2} through the slot's one-element iovec, for FUA) of
     * {@code length} bytes at native {@code address}.
     */
    private static long transfer(Request r, boolean read, long address, long length, long fileOffset) {
        if (read) {
            return FileIo.preadOrErrno(r.fd, address, length, fileOffset);
        }
        if (r.rwFlags == 0) {
            return FileIo.pwriteOrErrno(r.fd, address, length, fileOffset);
        }
        IoVec.set(r.scratch, 0, address, length);
        return FileIo.pwritevOrErrno(r.fd, r.scratchAddress, 1, fileOffset, r.rwFlags);
    }

    /** One {@code preadv2}/{@code pwritev2}; if it comes back short, the rest buffer by buffer. */
    private static long vectored(Request r) {
        boolean read = r.isRead();
        long ret;
        do {
            ret = read ? FileIo.preadvOrErrno(r.fd, r.iovAddress, r.iovCount, r.offset, r.rwFlags)
                    : FileIo.pwritevOrErrno(r.fd, r.iovAddress, r.iovCount, r.offset, r.rwFlags);
        } while (ret == -Errno.EINTR);
        if (ret <= 0 || ret >= r.length) {
            r.done = Math.max(ret, 0);
            return ret;
        }
        return continueVectored(r, read, ret);
    }

    private static long continueVectored(Request r, boolean read, long total) {
        long skip = total;
        for (int i = 0; i < r.iovCount; i++) {
            long base = ADDRESS_SPACE.get(JAVA_LONG, r.iovAddress + i * IoVec.SIZE);
            long len = ADDRESS_SPACE.get(JAVA_LONG, r.iovAddress + i * IoVec.SIZE + 8);
            if (skip >= len) {
                skip -= len;
                continue;
            }
            long address = base + skip;
            long remaining = len - skip;
            skip = 0;
            while (remaining > 0) {
                long n = transfer(r, read, address, remaining, r.offset + total);
                if (n == -Errno.EINTR) {
                    continue;
                }
                if (n <= 0) {
                    r.done = total;
                    return n < 0 ? n : total;
                }
                total += n;
                address += n;
                remaining -= n;
            }
        }
        r.done = total;
        return total;
    }
}
