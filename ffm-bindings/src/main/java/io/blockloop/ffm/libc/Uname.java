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
 * {@code uname(2)}: the running kernel's identity. {@code struct utsname} is six 65-byte strings on Linux.
 *
 * <p>Immutable value; any thread.
 *
 * @param sysname "Linux"
 * @param release the kernel release, e.g. "6.1.0-18-amd64"
 * @param machine "x86_64"
 */
public record Uname(String sysname, String release, String machine) {
    private static final int FIELD = 65;
    private static final MethodHandle UNAME = NativeLibrary.libc().downcallCapturingErrno("uname",
            FunctionDescriptor.of(JAVA_INT, ADDRESS));

    /** Calls {@code uname}. Any thread. */
    public static Uname current() {
        MemorySegment errno = ErrnoCapture.segment();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(FIELD * 6L);
            int r = (int) UNAME.invokeExact(errno, buf);
            if (r < 0) {
                throw new NativeCallException("uname", ErrnoCapture.errno(errno));
            }
            return new Uname(buf.getString(0), buf.getString(FIELD * 2L), buf.getString(FIELD * 4L));
        } catch (NativeCallException e) {
            throw e;
        } catch (Throwable t) {
            throw FileIo.rethrow(t);
        }
    }
}
