package io.blockloop.ffm.libc;

import io.blockloop.ffm.call.ErrnoCapture;
import io.blockloop.ffm.call.NativeLibrary;
import io.blockloop.ffm.errno.NativeCallException;
import io.blockloop.ffm.memory.SegmentBounds;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

/**
 * A thin facade over {@code epoll_create1}, {@code epoll_ctl}, {@code epoll_wait} and {@code epoll_pwait2}
 * (policy lives in the fd monitor that uses it, as in the JDK's {@code EPoll}/{@code EPollSelectorImpl}).
 *
 * <p>{@code struct epoll_event} is {@code __attribute__((packed))} on x86-64: {@code uint32_t events} at 0
 * and {@code uint64_t data} at 4, 12 bytes in all. jextract skips packed structs, so {@link #EVENT} is
 * declared here by hand with an unaligned 64-bit field.
 *
 * <p>Thread safety: stateless; any thread. The kernel allows {@code epoll_ctl} on an epoll fd while
 * another thread waits on it. {@link #ctl} and {@link #pwait2OrErrno} use per-thread scratch memory.
 */
public final class Epoll {
    public static final int EPOLLIN = 0x001;
    public static final int EPOLLPRI = 0x002;
    public static final int EPOLLOUT = 0x004;
    public static final int EPOLLERR = 0x008;
    public static final int EPOLLHUP = 0x010;
    public static final int EPOLLRDHUP = 0x2000;
    public static final int EPOLLONESHOT = 1 << 30;
    public static final int EPOLLET = 1 << 31;
    public static final int EPOLL_CTL_ADD = 1;
    public static final int EPOLL_CTL_DEL = 2;
    public static final int EPOLL_CTL_MOD = 3;
    public static final int EPOLL_CLOEXEC = OpenFlags.O_CLOEXEC;

    /** {@code struct epoll_event}, packed: 12 bytes. */
    public static final StructLayout EVENT = MemoryLayout.structLayout(
            JAVA_INT_UNALIGNED.withName("events"),
            JAVA_LONG_UNALIGNED.withName("data"));
    public static final long EVENT_SIZE = EVENT.byteSize();

    private static final NativeLibrary LIBC = NativeLibrary.libc();
    private static final MethodHandle CREATE1 = LIBC.downcallCapturingErrno("epoll_create1",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle CTL = LIBC.downcallCapturingErrno("epoll_ctl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
    // The waits are bound twice: without errno capture, which the JDK allocates per call unless C2 removes it, and
    // with it, for the repeat of a failed wait (see waitOrErrno).
    private static final FunctionDescriptor WAIT_TYPE = FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT,
            JAVA_INT);
    private static final FunctionDescriptor PWAIT2_TYPE = FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT,
            ADDRESS, ADDRESS);
    private static final MethodHandle WAIT = LIBC.downcall("epoll_wait", WAIT_TYPE);
    private static final MethodHandle WAIT_ERRNO = LIBC.downcallCapturingErrno("epoll_wait", WAIT_TYPE);
    private static final MethodHandle PWAIT2 = LIBC.downcall("epoll_pwait2", PWAIT2_TYPE);
    private static final MethodHandle PWAIT2_ERRNO = LIBC.downcallCapturingErrno("epoll_pwait2", PWAIT2_TYPE);
    private static final ThreadLocal<MemorySegment> SCRATCH =
            ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(16, 8));

    private Epoll() {
    }

    static {
        if (EVENT_SIZE != 12) {
            throw new AssertionError("struct epoll_event must be 12 bytes, is " + EVENT_SIZE);
        }
    }

    /** {@code epoll_create1(flags)}; returns the epoll fd. */
    public static int create(int flags) {
        MemorySegment errno = ErrnoCapture.segment();
        try {
            int fd = (int) CREATE1.invokeExact(errno, flags);
            if (fd < 0) {
                throw new NativeCallException("epoll_create1", ErrnoCapture.errno(errno));
            }
            return fd;
        } catch (NativeCallException e) {
            throw e;
        } catch (Throwable t) {
            throw FileIo.rethrow(t);
        }
    }

    /** {@code epoll_ctl(epfd, op, fd, {events, data})}; returns 0 or a negative errno. */
    public static int ctlOrErrno(int epfd, int op, int fd, int events, long data) {
        MemorySegment event = SCRATCH.get();
        event.set(JAVA_INT_UNALIGNED, 0, events);
        event.set(JAVA_LONG_UNALIGNED, 4, data);
        MemorySegment errno = ErrnoCapture.segment();
        try {
            int r = (int) CTL.invokeExact(errno, epfd, op, fd, event);
            return r < 0 ? -ErrnoCapture.errno(errno) : r;
        } catch (Throwable t) {
            throw FileIo.rethrow(t);
        }
    }

    /** {@link #ctlOrErrno} that throws, naming the operation. */
    public static void ctl(int epfd, int op, int fd, int events, long data) {
        int r = ctlOrErrno(epfd, op, fd, events, data);
        if (r < 0) {
            String name = switch (op) {
                case EPOLL_CTL_ADD -> "epoll_ctl(ADD)";
                case EPOLL_CTL_MOD -> "epoll_ctl(MOD)";
                case EPOLL_CTL_DEL -> "epoll_ctl(DEL)";
                default -> "epoll_ctl(" + op + ")";
            };
            throw new NativeCallException(name, -r, "fd " + fd);
        }
    }

    /**
     * {@code epoll_wait} with a millisecond timeout; returns the event count or a negative errno.
     *
     * <p>Allocates nothing, compiled or not: the wait does not capture errno. Only when it fails is it repeated, with
     * capture and without blocking, for the errno: a bad argument fails the same way again and is returned; an
     * interrupted wait ({@code EINTR}) is not repeated as such, and the repeat's event count, usually 0, is returned
     * in its place, as a wait that ended early. So a caller never sees {@code -EINTR}; it looks again, as it would
     * after one. (The repeat takes ready events as any wait does; the failed wait took none.)
     *
     * @throws IllegalArgumentException when {@code maxEvents} events do not fit in {@code events}, or {@code events}
     *                                  is read-only (the kernel writes into it)
     */
    public static int waitOrErrno(int epfd, MemorySegment events, int maxEvents, int timeoutMillis) {
        SegmentBounds.checkElements(events, maxEvents, EVENT_SIZE, "epoll_wait");
        SegmentBounds.checkWritable(events, "epoll_wait");
        int r;
        try {
            r = (int) WAIT.invokeExact(epfd, events, maxEvents, timeoutMillis);
        } catch (Throwable t) {
            throw FileIo.rethrow(t);
        }
        if (r >= 0) {
            return r;
        }
        MemorySegment errno = ErrnoCapture.segment();
        try {
            r = (int) WAIT_ERRNO.invokeExact(errno, epfd, events, maxEvents, 0);
            return r < 0 ? -ErrnoCapture.errno(errno) : r;
        } catch (Throwable t) {
            throw FileIo.rethrow(t);
        }
    }

    /**
     * {@code epoll_pwait2} (Linux 5.11, glibc 2.35) with a nanosecond timeout ({@code < 0} waits forever);
     * returns the event count or a negative errno ({@code -ENOSYS} on older kernels). Allocates nothing, and never
     * answers {@code -EINTR}, as {@link #waitOrErrno}.
     *
     * @throws IllegalArgumentException as {@link #waitOrErrno}
     */
    public static int pwait2OrErrno(int epfd, MemorySegment events, int maxEvents, long timeoutNanos) {
        SegmentBounds.checkElements(events, maxEvents, EVENT_SIZE, "epoll_pwait2");
        SegmentBounds.checkWritable(events, "epoll_pwait2");
        MemorySegment timespec = timeoutNanos < 0 ? MemorySegment.NULL : timespec(timeoutNanos);
        int r;
        try {
            r = (int) PWAIT2.invokeExact(epfd, events, maxEvents, timespec, MemorySegment.NULL);
        } catch (UnsatisfiedLinkError e) {
            return -io.blockloop.ffm.errno.Errno.ENOSYS;
        } catch (Throwable t) {
            throw FileIo.rethrow(t);
        }
        if (r >= 0) {
            return r;
        }
        MemorySegment errno = ErrnoCapture.segment();
        try {
            r = (int) PWAIT2_ERRNO.invokeExact(errno, epfd, events, maxEvents, timespec(0), MemorySegment.NULL);
            return r < 0 ? -ErrnoCapture.errno(errno) : r;
        } catch (Throwable t) {
            throw FileIo.rethrow(t);
        }
    }

    /** The calling thread's scratch as a {@code struct timespec} of {@code nanos}. */
    private static MemorySegment timespec(long nanos) {
        MemorySegment timespec = SCRATCH.get();
        timespec.set(JAVA_LONG, 0, nanos / 1_000_000_000L);
        timespec.set(JAVA_LONG, 8, nanos % 1_000_000_000L);
        return timespec;
    }

    /** The {@code events} mask of element {@code index} of an event array filled by a wait. */
    public static int events(MemorySegment eventArray, int index) {
        return eventArray.get(JAVA_INT_UNALIGNED, index * EVENT_SIZE);
    }

    /** The {@code data} word of element {@code index}. */
    public static long data(MemorySegment eventArray, int index) {
        return eventArray.get(JAVA_LONG_UNALIGNED, index * EVENT_SIZE + 4);
    }
}
