package io.blockloop.ffm.libc;

import io.blockloop.ffm.call.ErrnoCapture;
import io.blockloop.ffm.call.NativeLibrary;
import io.blockloop.ffm.errno.NativeCallException;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * File descriptor calls of the C library: open, close, positional and vectored reads and writes, sync,
 * space management and {@code fstat}.
 *
 * <p>Two forms: the plain methods throw {@link NativeCallException} naming the call and errno; the
 * {@code ...OrErrno} forms return the result or a negative errno, for I/O paths where a failure is an
 * ordinary outcome delivered to a request rather than an exception.
 *
 * <p>Thread safety: stateless; every method may be called from any thread (each thread has its own errno
 * capture segment). No method allocates except {@link #open}, which copies the path.
 */
public final class FileIo {
    private static final NativeLibrary LIBC = NativeLibrary.libc();
    private static final MethodHandle OPEN = LIBC.downcall("open",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT),
            Linker.Option.firstVariadicArg(2), captureErrno());
    private static final MethodHandle CLOSE = errnoCall("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle PREAD = errnoCall("pread",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG));
    private static final MethodHandle PWRITE = errnoCall("pwrite",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG));
    private static final MethodHandle PREADV2 = errnoCall("preadv2",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG, JAVA_INT));
    private static final MethodHandle PWRITEV2 = errnoCall("pwritev2",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG, JAVA_INT));
    private static final MethodHandle READ = errnoCall("read",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle WRITE = errnoCall("write",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle FSYNC = errnoCall("fsync", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle FDATASYNC = errnoCall("fdatasync", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle FALLOCATE = errnoCall("fallocate",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG));
    private static final MethodHandle FTRUNCATE = errnoCall("ftruncate",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG));
    private static final MethodHandle FSTAT = errnoCall("fstat", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS));

    /** {@code fallocate} mode: keep the file size. */
    public static final int FALLOC_FL_KEEP_SIZE = 0x01;
    /** {@code fallocate} mode: deallocate the range (needs KEEP_SIZE). */
    public static final int FALLOC_FL_PUNCH_HOLE = 0x02;
    /** {@code fallocate} mode: zero the range, allocating it. */
    public static final int FALLOC_FL_ZERO_RANGE = 0x10;

    /** {@code preadv2}/{@code pwritev2} flag: high-priority (polled) request. */
    public static final int RWF_HIPRI = 0x01;
    /** Per-request {@code O_DSYNC}: the write is durable when it completes (FUA). */
    public static final int RWF_DSYNC = 0x02;
    /** Per-request {@code O_SYNC}. */
    public static final int RWF_SYNC = 0x04;
    /** Fail with {@code EAGAIN} instead of blocking. */
    public static final int RWF_NOWAIT = 0x08;

    private FileIo() {
    }

    private static Linker.Option captureErrno() {
        return Linker.Option.captureCallState("errno");
    }

    private static MethodHandle errnoCall(String name, FunctionDescriptor descriptor) {
        return LIBC.downcallCapturingErrno(name, descriptor);
    }

    /** {@code open(path, flags, mode)}; returns the new fd. The message of a failure names the path. */
    public static int open(String path, int flags, int mode) {
        MemorySegment errno = ErrnoCapture.segment();
        int fd;
        try (Arena arena = Arena.ofConfined()) {
            fd = (int) OPEN.invokeExact(errno, arena.allocateFrom(path), flags, mode);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (fd < 0) {
            throw new NativeCallException("open", ErrnoCapture.errno(errno), path);
        }
        return fd;
    }

    public static void close(int fd) {
        NativeCallException.check("close", closeOrErrno(fd));
    }

    public static int closeOrErrno(int fd) {
        MemorySegment errno = ErrnoCapture.segment();
        try {
            return orErrno((int) CLOSE.invokeExact(errno, fd), errno);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Reads up to {@code buffer.byteSize()} bytes at {@code offset}; returns the count (0 at EOF). */
    public static long pread(int fd, MemorySegment buffer, long offset) {
        return NativeCallException.check("pread", preadOrErrno(fd, buffer, buffer.byteSize(), offset));
    }

    public static long preadOrErrno(int fd, MemorySegment buffer, long length, long offset) {
        MemorySegment errno = ErrnoCapture.segment();
        try {
            return orErrno((long) PREAD.invokeExact(errno, fd, buffer, length, offset), errno);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Writes {@code buffer} at {@code offset}; returns the count written (may be short). */
    public static long pwrite(int fd, MemorySegment buffer, long offset) {
        return NativeCallException.check("pwrite", pwriteOrErrno(fd, buffer, buffer.byteSize(), offset));
    }

    public static long pwriteOrErrno(int fd, MemorySegment buffer, long length, long offset) {
        MemorySegment errno = ErrnoCapture.segment();
        try {
            return orErrno((long) PWRITE.invokeExact(errno, fd, buffer, length, offset), errno);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code preadv2}: {@code iov} holds {@code iovCount} {@link IoVec}s; {@code rwFlags} are {@code RWF_*}. */
    public static long preadv(int fd, MemorySegment iov, int iovCount, long offset, int rwFlags) {
        return NativeCallException.check("preadv2", preadvOrErrno(fd, iov, iovCount, offset, rwFlags));
    }

    public static long preadvOrErrno(int fd, MemorySegment iov, int iovCount, long offset, int rwFlags) {
        MemorySegment errno = ErrnoCapture.segment();
        try {
            return orErrno((long) PREADV2.invokeExact(errno, fd, iov, iovCount, offset, rwFlags), errno);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code pwritev2}; pass {@link #RWF_DSYNC} for a FUA write. */
    public static long pwritev(int fd, MemorySegment iov, int iovCount, long offset, int rwFlags) {
        return NativeCallException.check("pwritev2", pwritevOrErrno(fd, iov, iovCount, offset, rwFlags));
    }

    public static long pwritevOrErrno(int fd, MemorySegment iov, int iovCount, long offset, int rwFlags) {
        MemorySegment errno = ErrnoCapture.segment();
        try {
            return orErrno((long) PWRITEV2.invokeExact(errno, fd, iov, iovCount, offset, rwFlags), errno);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code read(fd, buffer, length)}, returning the count or a negative errno ({@code -EAGAIN} on an empty non-blocking fd). */
    public static long readOrErrno(int fd, MemorySegment buffer, long length) {
        MemorySegment errno = ErrnoCapture.segment();
        try {
            return orErrno((long) READ.invokeExact(errno, fd, buffer, length), errno);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code write(fd, buffer, length)}, returning the count or a negative errno. */
    public static long writeOrErrno(int fd, MemorySegment buffer, long length) {
        MemorySegment errno = ErrnoCapture.segment();
        try {
            return orErrno((long) WRITE.invokeExact(errno, fd, buffer, length), errno);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static void fsync(int fd) {
        NativeCallException.check("fsync", fsyncOrErrno(fd));
    }

    public static int fsyncOrErrno(int fd) {
        MemorySegment errno = ErrnoCapture.segment();
        try {
            return orErrno((int) FSYNC.invokeExact(errno, fd), errno);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static void fdatasync(int fd) {
        NativeCallException.check("fdatasync", fdatasyncOrErrno(fd));
    }

    public static int fdatasyncOrErrno(int fd) {
        MemorySegment errno = ErrnoCapture.segment();
        try {
            return orErrno((int) FDATASYNC.invokeExact(errno, fd), errno);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code fallocate(fd, mode, offset, length)} with {@code FALLOC_FL_*} modes. */
    public static void fallocate(int fd, int mode, long offset, long length) {
        NativeCallException.check("fallocate", fallocateOrErrno(fd, mode, offset, length));
    }

    public static int fallocateOrErrno(int fd, int mode, long offset, long length) {
        MemorySegment errno = ErrnoCapture.segment();
        try {
            return orErrno((int) FALLOCATE.invokeExact(errno, fd, mode, offset, length), errno);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static void ftruncate(int fd, long length) {
        MemorySegment errno = ErrnoCapture.segment();
        int r;
        try {
            r = orErrno((int) FTRUNCATE.invokeExact(errno, fd, length), errno);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        NativeCallException.check("ftruncate", r);
    }

    /** {@code fstat(fd)}. */
    public static FileStat fstat(int fd) {
        MemorySegment errno = ErrnoCapture.segment();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = arena.allocate(FileStat.STRUCT_SIZE, 8);
            int r = (int) FSTAT.invokeExact(errno, fd, st);
            NativeCallException.check("fstat", orErrno(r, errno));
            return FileStat.of(st);
        } catch (NativeCallException e) {
            throw e;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static int orErrno(int result, MemorySegment errno) {
        return result < 0 ? -ErrnoCapture.errno(errno) : result;
    }

    private static long orErrno(long result, MemorySegment errno) {
        return result < 0 ? -ErrnoCapture.errno(errno) : result;
    }

    static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) {
            return r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        return new IllegalStateException("native call failed", t);
    }
}
