package io.blockloop.ffm.libc;

import io.blockloop.ffm.call.ErrnoCapture;
import io.blockloop.ffm.call.NativeLibrary;
import io.blockloop.ffm.errno.Errno;
import io.blockloop.ffm.errno.NativeCallException;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * An {@code eventfd(2)} counter: the kernel object BlockLoop uses to wake a sleeping loop and to signal
 * completions (linux-aio's {@code IOCB_FLAG_RESFD}, the thread pool).
 *
 * <p>Thread safety: {@link #signal()} may be called from any thread at any time before {@link #close()}, and
 * throws {@link IllegalStateException} after it, as {@link #drain()} does;
 * {@link #drain()} belongs to the single thread that watches the fd. Each thread uses its own 8-byte
 * scratch buffer, so neither call allocates after the first on a thread. {@link #close()} once, by the owner.
 */
public final class EventFd implements AutoCloseable {
    public static final int EFD_SEMAPHORE = 1;
    public static final int EFD_NONBLOCK = OpenFlags.O_NONBLOCK;
    public static final int EFD_CLOEXEC = OpenFlags.O_CLOEXEC;

    private static final MethodHandle EVENTFD = NativeLibrary.libc().downcallCapturingErrno("eventfd",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    private static final ThreadLocal<MemorySegment> SCRATCH =
            ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(JAVA_LONG));

    private final int fd;
    /** Created with {@link #EFD_SEMAPHORE}: a read takes 1, not the whole counter. */
    private final boolean semaphore;
    /**
     * Written by {@link #close()}; read by a later close() and by the checks of {@code signal}, {@code add} and
     * {@code drain}, on any thread: close()'s volatile store pairs with those loads. Not a guard against two
     * concurrent closes (close once, by the owner), nor against a close racing a signal (the owner orders them).
     */
    private volatile boolean closed;

    private EventFd(int fd, boolean semaphore) {
        this.fd = fd;
        this.semaphore = semaphore;
    }

    /** A non-blocking, close-on-exec eventfd starting at 0. */
    public static EventFd create() {
        return create(0, EFD_NONBLOCK | EFD_CLOEXEC);
    }

    public static EventFd create(int initialValue, int flags) {
        MemorySegment errno = ErrnoCapture.segment();
        int fd;
        try {
            fd = (int) EVENTFD.invokeExact(errno, initialValue, flags);
        } catch (Throwable t) {
            throw FileIo.rethrow(t);
        }
        if (fd < 0) {
            throw new NativeCallException("eventfd", ErrnoCapture.errno(errno));
        }
        return new EventFd(fd, (flags & EFD_SEMAPHORE) != 0);
    }

    public int fd() {
        return fd;
    }

    /** Adds 1 to the counter, making the fd readable. Any thread. */
    public void signal() {
        add(1);
    }

    /** Adds {@code value} to the counter. {@code EAGAIN} (counter saturated) is ignored: the fd is readable anyway. */
    public void add(long value) {
        checkOpen();
        MemorySegment buffer = SCRATCH.get();
        buffer.set(JAVA_LONG, 0, value);
        long r = FileIo.writeOrErrno(fd, buffer, 8);
        if (r < 0 && r != -Errno.EAGAIN) {
            throw new NativeCallException("write(eventfd)", (int) -r);
        }
    }

    /**
     * Reads and resets the counter; returns 0 when it was already 0 (non-blocking fd). On an {@link #EFD_SEMAPHORE}
     * eventfd, where each read takes 1, it reads until the counter is 0 and returns the sum (a single read returned
     * 1 and left the rest, until session 26). Owner thread.
     */
    public long drain() {
        checkOpen();
        MemorySegment buffer = SCRATCH.get();
        long total = 0;
        do {
            // The raw-address read allocates nothing even when C2 does not remove the errno capture slice (an empty
            // eventfd's EAGAIN takes the repeat-with-capture path, which is rare on a readable fd).
            long r = FileIo.readOrErrno(fd, buffer.address(), 8);
            if (r == -Errno.EAGAIN) {
                return total;
            }
            if (r < 0) {
                throw new NativeCallException("read(eventfd)", (int) -r);
            }
            total += buffer.get(JAVA_LONG, 0);
        } while (semaphore);
        return total;
    }

    /**
     * After {@link #close()} the fd number may already belong to another file of the process: writing or reading
     * it would touch that file (an audit saw {@code signal()} after close write 16 bytes into a regular file).
     * Volatile read of {@code closed}, which close() writes before it closes the fd.
     */
    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("eventfd " + fd + " is closed");
        }
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            FileIo.close(fd);
        }
    }
}
