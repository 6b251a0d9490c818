package io.blockloop.ffm.memory;

import io.blockloop.ffm.call.NativeLibrary;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Zeroes memory at the C library's speed. JDK 25's {@link MemorySegment#fill} zeroes native memory 2 to 4 times
 * slower than glibc's {@code memset} from 4 KiB up, and as fast at 512 bytes ({@code ZeroFillBenchmark}, figures in
 * the ffm-bindings README). So a native segment of {@value #MEMSET_FROM} bytes or more goes to {@code memset},
 * and everything else to {@code fill}.
 *
 * <p>Up to {@value #CRITICAL_UP_TO} bytes the downcall is critical (no thread-state transition, about 8 µs at most
 * for that size); a larger one is an ordinary downcall, so that a safepoint (a garbage collection) never waits for
 * a long {@code memset}.
 *
 * <p>The segment is passed to the downcall as a segment, not as a raw address, so the linker checks what
 * {@code fill} checks: the arena is alive and the calling thread may access it (else {@link IllegalStateException}
 * or {@link WrongThreadException}), and a shared arena cannot be closed while {@code memset} runs. A read-only
 * segment is left to {@code fill}, which refuses it.
 *
 * <p>Threads: any thread that may write the segment.
 */
public final class ZeroFill {
    /** The size from which {@code memset} beats {@code fill} on the machine of the measurement. */
    static final long MEMSET_FROM = 4096;

    /** The largest size zeroed by a critical downcall. */
    static final long CRITICAL_UP_TO = 1 << 20;

    private static final FunctionDescriptor MEMSET_TYPE = FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_INT, JAVA_LONG);
    private static final MethodHandle MEMSET_CRITICAL =
            NativeLibrary.libc().downcall("memset", MEMSET_TYPE, Linker.Option.critical(false));
    private static final MethodHandle MEMSET = NativeLibrary.libc().downcall("memset", MEMSET_TYPE);

    private ZeroFill() {
    }

    /** Sets every byte of {@code segment} to 0. */
    public static void zero(MemorySegment segment) {
        long size = segment.byteSize();
        if (size < MEMSET_FROM || !segment.isNative() || segment.isReadOnly()) {
            segment.fill((byte) 0);
            return;
        }
        try {
            MemorySegment ignored = size <= CRITICAL_UP_TO
                    ? (MemorySegment) MEMSET_CRITICAL.invokeExact(segment, 0, size)
                    : (MemorySegment) MEMSET.invokeExact(segment, 0, size);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError("memset cannot throw a checked exception", t);
        }
    }
}
