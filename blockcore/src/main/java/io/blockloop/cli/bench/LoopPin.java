package io.blockloop.cli.bench;

import io.blockloop.cli.CommandFailure;
import io.blockloop.ffm.errno.NativeCallException;
import io.blockloop.ffm.libc.CpuAffinity;

import java.util.BitSet;

/**
 * {@code --loop-cpu}: pins the main loop's thread to one CPU for the run and gives it back its CPUs afterwards. On
 * a VM whose idle vCPUs halt, an unpinned loop thread follows its wake-ups from vCPU to vCPU, and each move costs
 * an IPI to a halted vCPU ({@code docs/qd1-reads-on-loop-devices.md}).
 *
 * <p>Threads: the main loop's thread, which it pins; {@link #close()} on the same thread.
 */
final class LoopPin implements AutoCloseable {
    private static final LoopPin NONE = new LoopPin(-1, null);

    private final int cpu;
    private final BitSet restore;

    private LoopPin(int cpu, BitSet restore) {
        this.cpu = cpu;
        this.restore = restore;
    }

    /**
     * Pins the calling thread as {@code loopCpu} ({@link BenchOptions#loopCpu()}) asks; a CPU it may not use is a
     * runtime failure naming the CPUs it may use.
     */
    static LoopPin apply(int loopCpu) throws CommandFailure {
        if (loopCpu == BenchOptions.LOOP_CPU_NONE) {
            return NONE;
        }
        BitSet allowed = CpuAffinity.currentThreadCpus();
        int cpu = loopCpu == BenchOptions.LOOP_CPU_CURRENT ? CpuAffinity.currentCpu() : loopCpu;
        try {
            CpuAffinity.pinCurrentThread(cpu);
        } catch (NativeCallException e) {
            throw CommandFailure.runtime("bench: cannot pin the main loop's thread to CPU " + cpu
                    + " (it may run on CPUs " + allowed + "): " + e.getMessage());
        }
        return new LoopPin(cpu, allowed);
    }

    /** The CPU the thread is pinned to, or -1. */
    int cpu() {
        return cpu;
    }

    @Override
    public void close() {
        if (restore != null) {
            CpuAffinity.setCurrentThreadCpus(restore);
        }
    }
}
