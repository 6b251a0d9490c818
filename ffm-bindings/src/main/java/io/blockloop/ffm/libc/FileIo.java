package io.blockloop.ffm.libc;

import io.blockloop.ffm.call.ErrnoCapture;
import io.blockloop.ffm.call.NativeLibrary;
import io.blockloop.ffm.errno.NativeCallException;
import io.blockloop.ffm.memory.SegmentBounds;

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
 * <p>Raw-address forms: {@code pread}, {@code pwrite}, {@code preadv}, {@code pwritev}, {@code readOrErrno} and
 * {@code writeOrErrno}
 * also come with a {@code long} native address (and a length or iovec count) in place of the segment, for threads
 * that hold only an address (a pool worker doing I/O for a buffer from an arena confined to another thread) and
 * must not allocate a segment wrapper per call. They are bound with {@code JAVA_LONG} where the C function takes a
 * pointer (on the 64-bit ABIs the JDK supports both travel in the same integer register), so nothing is wrapped;
 * the caller answers for the memory being alive and large enough: nothing checks it. Only a negative length is
 * refused ({@link IllegalArgumentException}): as a {@code size_t} it is about 2^64, and the kernel would read or
 * write up to its 2 GiB per-call limit from the address.
 *
 * <p>Errno without allocation: a downcall linked with {@code captureCallState} slices its capture segment on every
 * call (the JDK's {@code SharedUtils.checkCaptureSegment}), a 40-byte object that only C2's escape analysis
 * removes; interpreted, C1-compiled or not fully inlined code allocates it every time. So the raw-address
 * {@code preadOrErrno}, {@code preadvOrErrno}, {@code readOrErrno} and {@code writeOrErrno} call a non-capturing
 * downcall and, only when it fails, <em>repeat the call once</em> with errno capture (that path allocates): a
 * failed read consumes nothing, so the repeat fails the same way (or, for a transient error, succeeds, which is as
 * good). A failed {@code write} to a file that is synchronous ({@code O_SYNC}/{@code O_DSYNC}, {@code RWF_DSYNC}, a
 * {@code sync} mount) may report a write-back error that the kernel reports only once (errseq), so a repeat could
 * succeed and hide it: the raw-address
 * {@code pwriteOrErrno} and {@code pwritevOrErrno} therefore capture errno on every call, and the repeating
 * {@code writeOrErrno} is for fds where a failed write consumes nothing (eventfds, pipes).
 *
 * <p>Thread safety: stateless; every method may be called from any thread (each thread has its own errno
 * capture segment). No method allocates except {@link #open}, which copies the path, the capture slice described
 * above, and the repeat of a failed raw-address call.
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
    private static final MethodHandle ISATTY = LIBC.downcall("isatty", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle FALLOCATE = errnoCall("fallocate",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG));
    private static final MethodHandle FTRUNCATE = errnoCall("ftruncate",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG));
    private static final MethodHandle FSTAT = errnoCall("fstat", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS));

    // The raw-address forms: the buffer or iovec pointer as JAVA_LONG. Reads and the plain write come twice, without
    // errno capture (the allocation-free first try) and with it (the repeat after a failure); see the class comment.
    private static final FunctionDescriptor POSITIONAL_AT =
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG);
    private static final FunctionDescriptor VECTORED_AT =
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_INT);
    private static final FunctionDescriptor SEQUENTIAL_AT =
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_LONG);
    private static final MethodHandle PREAD_AT = LIBC.downcall("pread", POSITIONAL_AT);
    private static final MethodHandle PREAD_AT_ERRNO = errnoCall("pread", POSITIONAL_AT);
    private static final MethodHandle PREADV2_AT = LIBC.downcall("preadv2", VECTORED_AT);
    private static final MethodHandle PREADV2_AT_ERRNO = errnoCall("preadv2", VECTORED_AT);
    private static final MethodHandle READ_AT = LIBC.downcall("read", SEQUENTIAL_AT);
    private static final MethodHandle READ_AT_ERRNO = errnoCall("read", SEQUENTIAL_AT);
    private static final MethodHandle WRITE_AT = LIBC.downcall("write", SEQUENTIAL_AT);
    private static final MethodHandle WRITE_AT_ERRNO = errnoCall("write", SEQUENTIAL_AT);
    private static final MethodHandle PWRITE_AT_ERRNO = errnoCall("pwrite", POSITIONAL_AT);
    private static final MethodHandle PWRITEV2_AT_ERRNO = errnoCall("pwritev2", VECTORED_AT);

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
        if (path.indexOf('\0') >= 0) { // C would open the path up to the NUL: another file than the one named
            throw new IllegalArgumentException("open: a path with a NUL character: " + path.replace('\0', '?'));
        }
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

    /**
     * Whether {@code fd} is a terminal ({@code isatty(3)}); false for anything else, a closed fd included. For a
     * stream the JVM's {@code System.console()} cannot answer about: it looks at standard input and output only.
     */
    public static boolean isTerminal(int fd) {
        try {
            return (int) ISATTY.invokeExact(fd) == 1;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * Reads up to {@code buffer.byteSize()} bytes at {@code offset}; returns the count (0 at EOF).
     *
     * @throws IllegalArgumentException when {@code buffer} is read-only, as {@link #preadOrErrno(int, MemorySegment,
     *                                  long, long)}
     */
    public static long pread(int fd, MemorySegment buffer, long offset) {
        return NativeCallException.check("pread", preadOrErrno(fd, buffer, buffer.byteSize(), offset));
    }

    /**
     * {@code pread} of {@code length} bytes into {@code buffer}: the count, or a negative errno.
     *
     * @throws IllegalArgumentException when {@code length} is negative or beyond the segment, or the segment is
     *                                  read-only ({@link MemorySegment#asReadOnly()}: the kernel would write into it)
     */
    public static long preadOrErrno(int fd, MemorySegment buffer, long length, long offset) {
        SegmentBounds.checkLength(buffer, length, "pread");
        SegmentBounds.checkWritable(buffer, "pread");
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
        SegmentBounds.checkLength(buffer, length, "pwrite");
        MemorySegment errno = ErrnoCapture.segment();
        try {
            return orErrno((long) PWRITE.invokeExact(errno, fd, buffer, length, offset), errno);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * {@code preadv2}: {@code iov} holds {@code iovCount} {@link IoVec}s; {@code rwFlags} are {@code RWF_*}. The
     * iovecs hold addresses, not segments, so nothing here can tell a read-only buffer behind them: see
     * {@link IoVec#set(MemorySegment, int, MemorySegment)}.
     */
    public static long preadv(int fd, MemorySegment iov, int iovCount, long offset, int rwFlags) {
        return NativeCallException.check("preadv2", preadvOrErrno(fd, iov, iovCount, offset, rwFlags));
    }

    public static long preadvOrErrno(int fd, MemorySegment iov, int iovCount, long offset, int rwFlags) {
        SegmentBounds.checkElements(iov, iovCount, IoVec.SIZE, "preadv2");
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
        SegmentBounds.checkElements(iov, iovCount, IoVec.SIZE, "pwritev2");
        MemorySegment errno = ErrnoCapture.segment();
        try {
            return orErrno((long) PWRITEV2.invokeExact(errno, fd, iov, iovCount, offset, rwFlags), errno);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    // ---- raw-address forms (see the class comment) -------------------------------------------------------------

    /** {@code pread} of {@code length} bytes into the native memory at {@code address}; the count (0 at EOF). */
    public static long pread(int fd, long address, long length, long offset) {
        return NativeCallException.check("pread", preadOrErrno(fd, address, length, offset));
    }

    /**
     * {@code pread} into the native memory at {@code address}: the count, or a negative errno. Allocates nothing
     * when it succeeds, compiled or not; a failed call is repeated once with errno capture (see the class comment).
     */
    public static long preadOrErrno(int fd, long address, long length, long offset) {
        checkRawLength(length, "pread");
        long result;
        try {
            result = (long) PREAD_AT.invokeExact(fd, address, length, offset);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        return result >= 0 ? result
                : repeatCapturingErrno(errno -> (long) PREAD_AT_ERRNO.invokeExact(errno, fd, address, length, offset));
    }

    /** {@code pwrite} of {@code length} bytes from the native memory at {@code address}; may be short. */
    public static long pwrite(int fd, long address, long length, long offset) {
        return NativeCallException.check("pwrite", pwriteOrErrno(fd, address, length, offset));
    }

    /**
     * {@code pwrite} from the native memory at {@code address}: the count, or a negative errno. No segment wrapper;
     * errno is captured on every call, never by repeating (a failed synchronous write must not be repeated: see the
     * class comment), so only the JDK's capture slice may be allocated.
     */
    public static long pwriteOrErrno(int fd, long address, long length, long offset) {
        checkRawLength(length, "pwrite");
        MemorySegment errno = ErrnoCapture.segment();
        try {
            return orErrno((long) PWRITE_AT_ERRNO.invokeExact(errno, fd, address, length, offset), errno);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code preadv2} with {@code iovCount} {@link IoVec}s at native address {@code iov}. */
    public static long preadv(int fd, long iov, int iovCount, long offset, int rwFlags) {
        return NativeCallException.check("preadv2", preadvOrErrno(fd, iov, iovCount, offset, rwFlags));
    }

    /**
     * {@code preadv2} with the iovec array at native address {@code iov}: the count, or a negative errno. Allocates
     * nothing, compiled or not; a failed call is repeated once with errno capture (see the class comment).
     */
    public static long preadvOrErrno(int fd, long iov, int iovCount, long offset, int rwFlags) {
        long result;
        try {
            result = (long) PREADV2_AT.invokeExact(fd, iov, iovCount, offset, rwFlags);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        return result >= 0 ? result
                : repeatCapturingErrno(errno ->
                        (long) PREADV2_AT_ERRNO.invokeExact(errno, fd, iov, iovCount, offset, rwFlags));
    }

    /** {@code pwritev2} with the iovec array at native address {@code iov}; {@link #RWF_DSYNC} for FUA. */
    public static long pwritev(int fd, long iov, int iovCount, long offset, int rwFlags) {
        return NativeCallException.check("pwritev2", pwritevOrErrno(fd, iov, iovCount, offset, rwFlags));
    }

    /**
     * {@code pwritev2} with the iovec array at native address {@code iov}: the count, or a negative errno. Errno is
     * captured on every call, as for {@link #pwriteOrErrno(int, long, long, long)}.
     */
    public static long pwritevOrErrno(int fd, long iov, int iovCount, long offset, int rwFlags) {
        MemorySegment errno = ErrnoCapture.segment();
        try {
            return orErrno((long) PWRITEV2_AT_ERRNO.invokeExact(errno, fd, iov, iovCount, offset, rwFlags), errno);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * {@code write(fd, address, length)} from native memory, returning the count or a negative errno. Allocates
     * nothing, compiled or not, because a failed write is repeated once with errno capture: use it only where a
     * failed write consumes nothing — eventfds, pipes — and {@link #pwriteOrErrno(int, long, long, long)} for files
     * and block devices (see the class comment).
     */
    public static long writeOrErrno(int fd, long address, long length) {
        checkRawLength(length, "write");
        long result;
        try {
            result = (long) WRITE_AT.invokeExact(fd, address, length);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        return result >= 0 ? result
                : repeatCapturingErrno(errno -> (long) WRITE_AT_ERRNO.invokeExact(errno, fd, address, length));
    }

    /**
     * {@code read(fd, address, length)} into the native memory at {@code address}: the count, or a negative errno
     * ({@code -EAGAIN} on an empty non-blocking fd). Allocates nothing when it succeeds, compiled or not: a failed
     * call is repeated once with errno capture (see the class comment), so use it where a failed read consumes
     * nothing (eventfds, pipes, regular files), not on a stream whose failed read loses data.
     */
    public static long readOrErrno(int fd, long address, long length) {
        checkRawLength(length, "read");
        long result;
        try {
            result = (long) READ_AT.invokeExact(fd, address, length);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        return result >= 0 ? result
                : repeatCapturingErrno(errno -> (long) READ_AT_ERRNO.invokeExact(errno, fd, address, length));
    }

    /** Refuses a negative length of a raw-address form (see the class comment); {@code what} names the call. */
    private static void checkRawLength(long length, String what) {
        if (length < 0) {
            throw new IllegalArgumentException(what + ": negative length " + length);
        }
    }

    /**
     * The failed call of a repeating raw-address method, once more with errno capture; the lambda exists only then.
     * Runs on the thread whose call failed: the capture segment is that thread's.
     */
    @FunctionalInterface
    private interface CapturingCall {
        long call(MemorySegment errno) throws Throwable;
    }

    /** Repeats a failed call with errno capture (see the class comment): its result, or {@code -errno}. */
    private static long repeatCapturingErrno(CapturingCall call) {
        MemorySegment errno = ErrnoCapture.segment();
        try {
            return orErrno(call.call(errno), errno);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * {@code read(fd, buffer, length)}, returning the count or a negative errno ({@code -EAGAIN} on an empty
     * non-blocking fd).
     *
     * @throws IllegalArgumentException when {@code length} is negative or beyond the segment, or the segment is
     *                                  read-only (the kernel would write into it)
     */
    public static long readOrErrno(int fd, MemorySegment buffer, long length) {
        SegmentBounds.checkLength(buffer, length, "read");
        SegmentBounds.checkWritable(buffer, "read");
        MemorySegment errno = ErrnoCapture.segment();
        try {
            return orErrno((long) READ.invokeExact(errno, fd, buffer, length), errno);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code write(fd, buffer, length)}, returning the count or a negative errno. */
    public static long writeOrErrno(int fd, MemorySegment buffer, long length) {
        SegmentBounds.checkLength(buffer, length, "write");
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
