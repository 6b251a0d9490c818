package io.blockloop.ffm.libc;

import io.blockloop.ffm.call.ErrnoCapture;
import io.blockloop.ffm.call.NativeLibrary;
import io.blockloop.ffm.errno.NativeCallException;
import io.blockloop.ffm.memory.SegmentBounds;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * {@code poll(2)} and {@code ppoll(2)} over an array of {@code struct pollfd {int fd; short events; short
 * revents;}} (8 bytes each) that the caller owns and reuses.
 *
 * <p>Thread safety: stateless; any thread. {@link #ppollOrErrno} uses a per-thread timespec, so it does
 * not allocate after the first call on a thread.
 */
public final class Poll {
    public static final short POLLIN = 0x001;
    public static final short POLLPRI = 0x002;
    public static final short POLLOUT = 0x004;
    public static final short POLLERR = 0x008;
    public static final short POLLHUP = 0x010;
    public static final short POLLNVAL = 0x020;
    public static final short POLLRDHUP = 0x2000;
    /** Size of one {@code struct pollfd}. */
    public static final long POLLFD_SIZE = 8;

    private static final MethodHandle POLL = NativeLibrary.libc().downcallCapturingErrno("poll",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
    /** Without errno capture: the JDK's capture allocates per call unless C2 removes it (see {@link #ppollOrErrno}). */
    private static final MethodHandle PPOLL = NativeLibrary.libc().downcall("ppoll",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, ADDRESS, ADDRESS));
    private static final MethodHandle PPOLL_ERRNO = NativeLibrary.libc().downcallCapturingErrno("ppoll",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, ADDRESS, ADDRESS));
    private static final ThreadLocal<MemorySegment> TIMESPEC =
            ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(JAVA_LONG, 2));

    private Poll() {
    }

    public static void set(MemorySegment pollfds, int index, int fd, short events) {
        long at = index * POLLFD_SIZE;
        pollfds.set(JAVA_INT, at, fd);
        pollfds.set(JAVA_SHORT, at + 4, events);
        pollfds.set(JAVA_SHORT, at + 6, (short) 0);
    }

    public static int fd(MemorySegment pollfds, int index) {
        return pollfds.get(JAVA_INT, index * POLLFD_SIZE);
    }

    public static short events(MemorySegment pollfds, int index) {
        return pollfds.get(JAVA_SHORT, index * POLLFD_SIZE + 4);
    }

    public static short revents(MemorySegment pollfds, int index) {
        return pollfds.get(JAVA_SHORT, index * POLLFD_SIZE + 6);
    }

    /**
     * {@code poll(fds, n, timeoutMillis)}; returns the ready count. {@code EINTR} is thrown like any error.
     *
     * @throws IllegalArgumentException when {@code count} entries do not fit in {@code pollfds}, or {@code pollfds}
     *                                  is read-only (the kernel writes {@code revents} into it)
     */
    public static int poll(MemorySegment pollfds, int count, int timeoutMillis) {
        SegmentBounds.checkElements(pollfds, count, POLLFD_SIZE, "poll");
        SegmentBounds.checkWritable(pollfds, "poll");
        MemorySegment errno = ErrnoCapture.segment();
        try {
            int r = (int) POLL.invokeExact(errno, pollfds, (long) count, timeoutMillis);
            if (r < 0) {
                throw new NativeCallException("poll", ErrnoCapture.errno(errno));
            }
            return r;
        } catch (NativeCallException e) {
            throw e;
        } catch (Throwable t) {
            throw FileIo.rethrow(t);
        }
    }

    /**
     * {@code ppoll} with a nanosecond timeout ({@code < 0}: wait forever, {@code 0}: do not block) and no
     * signal mask change. Returns the ready count or a negative errno.
     *
     * <p>Allocates nothing, compiled or not: the call does not capture errno. Only when it fails is it repeated,
     * with capture and without blocking, for the errno: a bad argument ({@code EFAULT}, {@code EINVAL}) fails the
     * same way again and is returned; an interrupted wait ({@code EINTR}) is not repeated as such, and the repeat's
     * ready count, usually 0, is returned in its place, as a wait that ended early. So a caller never sees
     * {@code -EINTR}; it looks again, as it would after one.
     *
     * @throws IllegalArgumentException as {@link #poll}
     */
    public static int ppollOrErrno(MemorySegment pollfds, int count, long timeoutNanos) {
        SegmentBounds.checkElements(pollfds, count, POLLFD_SIZE, "ppoll");
        SegmentBounds.checkWritable(pollfds, "ppoll");
        MemorySegment timespec = timeoutNanos < 0 ? MemorySegment.NULL : timespec(timeoutNanos);
        int r;
        try {
            r = (int) PPOLL.invokeExact(pollfds, (long) count, timespec, MemorySegment.NULL);
        } catch (Throwable t) {
            throw FileIo.rethrow(t);
        }
        return r >= 0 ? r : ppollCapturingErrno(pollfds, count);
    }

    /** The repeat of a failed {@link #ppollOrErrno}: the same fds, no wait, errno captured. */
    private static int ppollCapturingErrno(MemorySegment pollfds, int count) {
        MemorySegment errno = ErrnoCapture.segment();
        try {
            int r = (int) PPOLL_ERRNO.invokeExact(errno, pollfds, (long) count, timespec(0), MemorySegment.NULL);
            return r < 0 ? -ErrnoCapture.errno(errno) : r;
        } catch (Throwable t) {
            throw FileIo.rethrow(t);
        }
    }

    /** The calling thread's {@code struct timespec}, set to {@code nanos}. */
    private static MemorySegment timespec(long nanos) {
        MemorySegment timespec = TIMESPEC.get();
        timespec.setAtIndex(JAVA_LONG, 0, nanos / 1_000_000_000L);
        timespec.setAtIndex(JAVA_LONG, 1, nanos % 1_000_000_000L);
        return timespec;
    }

    /** {@link #ppollOrErrno} that throws on failure. */
    public static int ppoll(MemorySegment pollfds, int count, long timeoutNanos) {
        return NativeCallException.check("ppoll", ppollOrErrno(pollfds, count, timeoutNanos));
    }
}
