package io.blockloop.ffm.libc;

import io.blockloop.ffm.errno.Errno;
import io.blockloop.ffm.errno.NativeCallException;
import org.junit.jupiter.api.Test;

import java.util.BitSet;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link CpuAffinity} against the kernel, each case on a thread of its own so that the test runner's threads keep
 * their affinity: pinning moves the calling thread (and only it) onto the CPU, restoring gives the CPUs back, and a
 * CPU the thread may not use is refused with {@code EINVAL}.
 */
class CpuAffinityTest {

    @Test
    void pinningMovesTheCallingThreadOntoEachAllowedCpuAndRestoringGivesThemBack() throws Exception {
        onOwnThread(() -> {
            BitSet allowed = CpuAffinity.currentThreadCpus();
            assertFalse(allowed.isEmpty());
            assertTrue(allowed.get(CpuAffinity.currentCpu()), "runs on a CPU it may use");
            for (int cpu = allowed.nextSetBit(0); cpu >= 0; cpu = allowed.nextSetBit(cpu + 1)) {
                CpuAffinity.pinCurrentThread(cpu);
                BitSet one = new BitSet();
                one.set(cpu);
                assertEquals(one, CpuAffinity.currentThreadCpus());
                assertEquals(cpu, CpuAffinity.currentCpu(), "the kernel moved the thread before returning");
            }
            CpuAffinity.setCurrentThreadCpus(allowed);
            assertEquals(allowed, CpuAffinity.currentThreadCpus());
        });
    }

    @Test
    void pinningOneThreadLeavesTheOthersAlone() throws Exception {
        BitSet before = CpuAffinity.currentThreadCpus();
        onOwnThread(() -> CpuAffinity.pinCurrentThread(CpuAffinity.currentThreadCpus().nextSetBit(0)));
        assertEquals(before, CpuAffinity.currentThreadCpus());
    }

    @Test
    void aCpuTheThreadMayNotUseIsRefusedAndChangesNothing() throws Exception {
        onOwnThread(() -> {
            BitSet allowed = CpuAffinity.currentThreadCpus();
            int unusable = CpuAffinity.CPU_SETSIZE - 1;
            assertFalse(allowed.get(unusable), "this machine has fewer than 1024 CPUs");
            NativeCallException e = assertThrows(NativeCallException.class, () -> CpuAffinity.pinCurrentThread(unusable));
            assertEquals(Errno.EINVAL, e.errno());
            assertEquals(allowed, CpuAffinity.currentThreadCpus());
            assertThrows(IllegalArgumentException.class, () -> CpuAffinity.pinCurrentThread(-1));
            assertThrows(IllegalArgumentException.class, () -> CpuAffinity.pinCurrentThread(CpuAffinity.CPU_SETSIZE));
            assertThrows(IllegalArgumentException.class, () -> CpuAffinity.setCurrentThreadCpus(new BitSet()));
        });
    }

    private static void onOwnThread(Runnable body) throws Exception {
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread t = Thread.ofPlatform().start(() -> {
            try {
                body.run();
            } catch (Throwable e) {
                failure.set(e);
            }
        });
        t.join();
        if (failure.get() instanceof Error e) {
            throw e;
        }
        if (failure.get() instanceof Exception e) {
            throw e;
        }
    }
}
