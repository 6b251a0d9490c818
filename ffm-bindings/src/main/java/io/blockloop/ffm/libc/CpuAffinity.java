package io.blockloop.ffm.libc;

import io.blockloop.ffm.call.ErrnoCapture;
import io.blockloop.ffm.call.NativeLibrary;
import io.blockloop.ffm.errno.NativeCallException;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.BitSet;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The calling OS thread's CPU affinity: {@code sched_getcpu(3)}, {@code sched_getaffinity(2)} and
 * {@code sched_setaffinity(2)} with pid 0, which the kernel reads as "the calling thread" (not the process).
 * An event loop pinned to one CPU stops following its wake-ups from vCPU to vCPU; see
 * {@code docs/qd1-reads-on-loop-devices.md} for what that is worth on a VM.
 *
 * <p>Threads: any thread; every method acts on the thread that calls it. Allocates a 128-byte
 * {@code cpu_set_t} per call: for set-up, not fast paths.
 */
public final class CpuAffinity {
    /** {@code CPU_SETSIZE}: the CPUs a {@code cpu_set_t} can name (glibc's fixed size, 1024 bits). */
    public static final int CPU_SETSIZE = 1024;
    private static final long SET_BYTES = CPU_SETSIZE / 8;

    private static final MethodHandle GETCPU = NativeLibrary.libc().downcallCapturingErrno("sched_getcpu",
            FunctionDescriptor.of(JAVA_INT));
    private static final MethodHandle GETAFFINITY = NativeLibrary.libc().downcallCapturingErrno(
            "sched_getaffinity", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS));
    private static final MethodHandle SETAFFINITY = NativeLibrary.libc().downcallCapturingErrno(
            "sched_setaffinity", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS));

    private CpuAffinity() {
    }

    /** The CPU the calling thread runs on at this moment (it may move right after, unless pinned). */
    public static int currentCpu() {
        MemorySegment errno = ErrnoCapture.segment();
        int cpu;
        try {
            cpu = (int) GETCPU.invokeExact(errno);
        } catch (Throwable t) {
            throw FileIo.rethrow(t);
        }
        if (cpu < 0) {
            throw new NativeCallException("sched_getcpu", ErrnoCapture.errno(errno));
        }
        return cpu;
    }

    /** The CPUs the calling thread may run on. */
    public static BitSet currentThreadCpus() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment set = arena.allocate(SET_BYTES, 8);
            MemorySegment errno = ErrnoCapture.segment();
            int r = (int) GETAFFINITY.invokeExact(errno, 0, SET_BYTES, set);
            if (r != 0) {
                throw new NativeCallException("sched_getaffinity", ErrnoCapture.errno(errno));
            }
            return BitSet.valueOf(set.toArray(JAVA_LONG));
        } catch (Throwable t) {
            throw FileIo.rethrow(t);
        }
    }

    /** Lets the calling thread run on {@code cpu} only. */
    public static void pinCurrentThread(int cpu) {
        if (cpu < 0 || cpu >= CPU_SETSIZE) {
            throw new IllegalArgumentException("CPU " + cpu + " is outside 0.." + (CPU_SETSIZE - 1));
        }
        BitSet one = new BitSet();
        one.set(cpu);
        setCurrentThreadCpus(one);
    }

    /**
     * Lets the calling thread run on {@code cpus} only (for instance to restore what {@link #currentThreadCpus()}
     * returned). A set with no CPU that is online and allowed to this thread fails with {@code EINVAL}.
     */
    public static void setCurrentThreadCpus(BitSet cpus) {
        if (cpus.isEmpty() || cpus.length() > CPU_SETSIZE) {
            throw new IllegalArgumentException("CPU set " + cpus + " is empty or names a CPU above " + (CPU_SETSIZE - 1));
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment set = arena.allocate(SET_BYTES, 8);
            long[] words = cpus.toLongArray();
            for (int i = 0; i < words.length; i++) {
                set.setAtIndex(JAVA_LONG, i, words[i]);
            }
            MemorySegment errno = ErrnoCapture.segment();
            int r = (int) SETAFFINITY.invokeExact(errno, 0, SET_BYTES, set);
            if (r != 0) {
                throw new NativeCallException("sched_setaffinity(" + cpus + ")", ErrnoCapture.errno(errno));
            }
        } catch (Throwable t) {
            throw FileIo.rethrow(t);
        }
    }
}
