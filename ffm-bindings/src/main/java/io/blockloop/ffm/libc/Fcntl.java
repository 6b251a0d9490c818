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
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * {@code fcntl(2)}: status flags and open-file-description (OFD) byte-range locks.
 *
 * <p>OFD locks belong to the open file description, not the process, so two opens of one image in one
 * process conflict just as two processes do, which is what image locking needs (QEMU uses them too).
 *
 * <p>Thread safety: stateless; any thread.
 */
public final class Fcntl {
    public static final int F_GETFL = 3;
    public static final int F_SETFL = 4;
    public static final int F_OFD_GETLK = 36;
    public static final int F_OFD_SETLK = 37;
    public static final int F_OFD_SETLKW = 38;
    public static final short F_RDLCK = 0;
    public static final short F_WRLCK = 1;
    public static final short F_UNLCK = 2;
    private static final short SEEK_SET = 0;
    /** {@code struct flock}: l_type(2) l_whence(2) pad(4) l_start(8) l_len(8) l_pid(4) pad(4). */
    private static final long FLOCK_SIZE = 32;

    // int fcntl(int fd, int cmd, ...): the third argument is variadic.
    private static final MethodHandle FCNTL_INT = NativeLibrary.libc().downcall("fcntl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT),
            Linker.Option.firstVariadicArg(2), Linker.Option.captureCallState("errno"));
    private static final MethodHandle FCNTL_PTR = NativeLibrary.libc().downcall("fcntl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS),
            Linker.Option.firstVariadicArg(2), Linker.Option.captureCallState("errno"));

    private Fcntl() {
    }

    /** The file status flags and access mode ({@code F_GETFL}). */
    public static int getFlags(int fd) {
        return NativeCallException.check("fcntl(F_GETFL)", getFlagsOrErrno(fd));
    }

    /** {@link #getFlags}, returning a negative errno instead of throwing ({@code -EBADF}: not an open fd). */
    public static int getFlagsOrErrno(int fd) {
        return intCall(fd, F_GETFL, 0);
    }

    /** Sets the status flags ({@code F_SETFL}: O_APPEND, O_NONBLOCK, O_DIRECT, ...). */
    public static void setFlags(int fd, int flags) {
        NativeCallException.check("fcntl(F_SETFL)", intCall(fd, F_SETFL, flags));
    }

    /**
     * Tries to take ({@link #F_RDLCK}, {@link #F_WRLCK}) or drop ({@link #F_UNLCK}) an OFD lock on
     * {@code [start, start + length)} without waiting. Returns 0, or a negative errno: {@code -EAGAIN} when
     * another open file description holds a conflicting lock.
     */
    public static int setOfdLockOrErrno(int fd, short type, long start, long length) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment lock = flock(arena, type, start, length);
            return ptrCall(fd, F_OFD_SETLK, lock);
        }
    }

    /**
     * Tests whether a lock of {@code type} on the range could be taken ({@code F_OFD_GETLK}); returns the
     * type of a conflicting lock held by another open file description, or {@link #F_UNLCK} when none.
     */
    public static short conflictingOfdLock(int fd, short type, long start, long length) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment lock = flock(arena, type, start, length);
            NativeCallException.check("fcntl(F_OFD_GETLK)", ptrCall(fd, F_OFD_GETLK, lock));
            return lock.get(JAVA_SHORT, 0);
        }
    }

    private static MemorySegment flock(Arena arena, short type, long start, long length) {
        MemorySegment lock = arena.allocate(FLOCK_SIZE, 8);
        lock.set(JAVA_SHORT, 0, type);
        lock.set(JAVA_SHORT, 2, SEEK_SET);
        lock.set(JAVA_LONG, 8, start);
        lock.set(JAVA_LONG, 16, length);
        lock.set(JAVA_INT, 24, 0); // l_pid must be 0 for OFD locks
        return lock;
    }

    private static int intCall(int fd, int cmd, int arg) {
        MemorySegment errno = ErrnoCapture.segment();
        try {
            int r = (int) FCNTL_INT.invokeExact(errno, fd, cmd, arg);
            return r < 0 ? -ErrnoCapture.errno(errno) : r;
        } catch (Throwable t) {
            throw FileIo.rethrow(t);
        }
    }

    private static int ptrCall(int fd, int cmd, MemorySegment arg) {
        MemorySegment errno = ErrnoCapture.segment();
        try {
            int r = (int) FCNTL_PTR.invokeExact(errno, fd, cmd, arg);
            return r < 0 ? -ErrnoCapture.errno(errno) : r;
        } catch (Throwable t) {
            throw FileIo.rethrow(t);
        }
    }
}
