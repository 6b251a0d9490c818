package io.blockloop.ffm.libc;

import io.blockloop.ffm.call.ErrnoCapture;
import io.blockloop.ffm.call.NativeLibrary;
import io.blockloop.ffm.errno.NativeCallException;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * A pipe made by {@code pipe2(2)}: two fds, closed together.
 *
 * <p>Thread safety: the fds are plain ints; reading and writing them follows the caller's own rules.
 * {@link #close()} once, by the owner.
 */
public final class Pipe implements AutoCloseable {
    private static final MethodHandle PIPE2 = NativeLibrary.libc().downcallCapturingErrno("pipe2",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));

    private final int readFd;
    private final int writeFd;
    private boolean closed;

    private Pipe(int readFd, int writeFd) {
        this.readFd = readFd;
        this.writeFd = writeFd;
    }

    /** {@code pipe2(fds, flags)} with {@code O_NONBLOCK}/{@code O_CLOEXEC}/{@code O_DIRECT}. */
    public static Pipe create(int flags) {
        MemorySegment errno = ErrnoCapture.segment();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment fds = arena.allocate(JAVA_INT, 2);
            int r = (int) PIPE2.invokeExact(errno, fds, flags);
            if (r < 0) {
                throw new NativeCallException("pipe2", ErrnoCapture.errno(errno));
            }
            return new Pipe(fds.getAtIndex(JAVA_INT, 0), fds.getAtIndex(JAVA_INT, 1));
        } catch (NativeCallException e) {
            throw e;
        } catch (Throwable t) {
            throw FileIo.rethrow(t);
        }
    }

    public int readFd() {
        return readFd;
    }

    public int writeFd() {
        return writeFd;
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            FileIo.closeOrErrno(readFd);
            FileIo.closeOrErrno(writeFd);
        }
    }
}
