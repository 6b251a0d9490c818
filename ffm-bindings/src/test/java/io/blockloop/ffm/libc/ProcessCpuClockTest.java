package io.blockloop.ffm.libc;

import org.junit.jupiter.api.Test;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link ProcessCpuClock} counts the CPU time of every thread of the process, exited ones included, to the
 * nanosecond: what another thread burns shows up in the caller's reading, and the reading never falls below the
 * caller's own precise thread CPU time.
 */
class ProcessCpuClockTest {
    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

    @Test
    void includesTheCpuTimeOfAnotherThreadThatHasExited() throws Exception {
        long before = ProcessCpuClock.nanos();
        AtomicLong burned = new AtomicLong();
        Thread burner = Thread.ofPlatform().start(() -> {
            long start = THREADS.getCurrentThreadCpuTime();
            long sink = 0;
            while (THREADS.getCurrentThreadCpuTime() - start < 50_000_000L) { // 50 ms of this thread's CPU
                for (int i = 0; i < 10_000; i++) {
                    sink += i * 31L ^ sink;
                }
            }
            burned.set(THREADS.getCurrentThreadCpuTime() - start + (sink == 42 ? 1 : 0));
        });
        burner.join();
        long after = ProcessCpuClock.nanos();
        assertTrue(after - before >= burned.get(),
                () -> "process CPU grew by " + (after - before) + " ns, the exited thread alone burned " + burned.get());
    }

    @Test
    void neverReadsBelowTheCallersOwnThreadCpuTime() {
        long process0 = ProcessCpuClock.nanos();
        long thread0 = THREADS.getCurrentThreadCpuTime();
        long sink = 0;
        for (int round = 0; round < 200; round++) {
            for (int i = 0; i < 100_000; i++) {
                sink += i * 31L ^ sink;
            }
            long thread = THREADS.getCurrentThreadCpuTime() - thread0;
            long process = ProcessCpuClock.nanos() - process0;
            long s = sink;
            assertTrue(process >= thread, () -> "process " + process + " ns < this thread's " + thread + " ns (" + s + ")");
        }
    }
}
