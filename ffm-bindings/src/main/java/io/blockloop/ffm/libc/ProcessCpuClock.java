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
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * {@code clock_gettime(CLOCK_PROCESS_CPUTIME_ID)}: the CPU time of the whole process (every thread, live or exited,
 * user and system), to the nanosecond. The JDK's {@code OperatingSystemMXBean.getProcessCpuTime()} reads
 * {@code times(2)} on Linux, which counts in clock ticks (10 ms at {@code CLK_TCK} 100): too coarse for a run of a
 * few hundred milliseconds, and it can come out below one thread's precise {@code getCurrentThreadCpuTime()}.
 *
 * <p>Threads: any thread. Allocates a 16-byte {@code struct timespec} per call: for measurements, not fast paths.
 */
public final class ProcessCpuClock {
    /** {@code CLOCK_PROCESS_CPUTIME_ID} ({@code <linux/time.h>}). */
    private static final int CLOCK_PROCESS_CPUTIME_ID = 2;

    private static final MethodHandle CLOCK_GETTIME = NativeLibrary.libc().downcallCapturingErrno("clock_gettime",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS));

    private ProcessCpuClock() {
    }

    /** The process's CPU time so far, in nanoseconds. Any thread. */
    public static long nanos() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment timespec = arena.allocate(16, 8); // struct timespec { time_t tv_sec; long tv_nsec; }
            MemorySegment errno = ErrnoCapture.segment();
            int r = (int) CLOCK_GETTIME.invokeExact(errno, CLOCK_PROCESS_CPUTIME_ID, timespec);
            if (r != 0) {
                throw new NativeCallException("clock_gettime(CLOCK_PROCESS_CPUTIME_ID)", ErrnoCapture.errno(errno));
            }
            return timespec.get(JAVA_LONG, 0) * 1_000_000_000L + timespec.get(JAVA_LONG, 8);
        } catch (Throwable t) {
            throw FileIo.rethrow(t);
        }
    }
}
