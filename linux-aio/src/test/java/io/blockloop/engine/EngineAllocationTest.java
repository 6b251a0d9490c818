package io.blockloop.engine;

import io.blockloop.ffm.libc.FileIo;
import io.blockloop.ffm.libc.OpenFlags;
import io.blockloop.ffm.memory.AlignedBuffer;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * No allocation per request in steady state: after a warm-up (so the JIT has compiled the path), a window of
 * 100 000 requests at queue depth 32 allocates less than one byte per request on the owner thread and, for the
 * thread pool, on its workers together (HotSpot's per-thread allocation counters). Up to ten windows are tried,
 * because on a loaded machine the JIT may still be compiling. Counts requests, never time.
 */
class EngineAllocationTest {
    private static final int QD = 32;
    private static final int WARM_UP = 200_000;
    private static final int MEASURED = 100_000;
    private static final int WINDOWS = 10;

    @TempDir
    Path dir;

    @ParameterizedTest
    @EnumSource(value = EngineUnderTest.class,
            names = {"LINUX_AIO", "IO_URING", "IO_URING_DEFERRED", "IO_URING_SHARED", "THREADS"})
    void steadyStateRequestsAllocateNothing(EngineUnderTest e) {
        // Reads of a sparse file's holes: O_DIRECT, but no disk I/O, so the loop is fast.
        int fd = FileIo.open(dir.resolve("holes.img").toString(),
                OpenFlags.O_RDWR | OpenFlags.O_CREAT | OpenFlags.O_CLOEXEC, 0644);
        FileIo.ftruncate(fd, 64L << 20);
        FileIo.close(fd);
        fd = FileIo.open(dir.resolve("holes.img").toString(), OpenFlags.O_RDWR | OpenFlags.O_DIRECT, 0);
        com.sun.management.ThreadMXBean threads =
                (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        try (IoEngine engine = e.open(); AlignedBuffer buffers = AlignedBuffer.allocate(QD * 4096L, 4096)) {
            Loop loop = new Loop(engine, fd, buffers);
            loop.runUntil(WARM_UP);
            // The JIT may still be compiling after the warm-up (later on a loaded machine): a window that allocates
            // is retried, and only ten allocating windows in a row fail the test.
            String failure = "not measured";
            for (int window = 1; window <= WINDOWS && failure != null; window++) {
                long[] workers = poolWorkerIds();
                long owner0 = threads.getCurrentThreadAllocatedBytes();
                long workers0 = sum(threads.getThreadAllocatedBytes(workers));
                long done0 = loop.completed;
                loop.runUntil(done0 + MEASURED);
                long owner = threads.getCurrentThreadAllocatedBytes() - owner0;
                long workerBytes = sum(threads.getThreadAllocatedBytes(workers)) - workers0;
                long requests = loop.completed - done0;
                failure = owner < requests && workerBytes < requests ? null
                        : e + ": in window " + window + " the owner thread allocated " + owner + " bytes and "
                        + workers.length + " pool workers " + workerBytes + " bytes for " + requests + " requests";
                if (e == EngineUnderTest.THREADS) {
                    assertTrue(workers.length > 0, "no pool worker found");
                }
            }
            loop.stop();
            assertNull(failure);
        } finally {
            FileIo.close(fd);
        }
    }

    /** Ids of the live thread-pool workers (none for the kernel engines). */
    private static long[] poolWorkerIds() {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().startsWith("blockloop-pool-"))
                .mapToLong(Thread::threadId).toArray();
    }

    /** Sum of per-thread counters; a thread that exited meanwhile reports -1 and counts as 0. */
    private static long sum(long[] bytes) {
        long total = 0;
        for (long b : bytes) {
            total += Math.max(0, b);
        }
        return total;
    }

    /** Keeps {@link #QD} reads in flight; each completion submits the next one for the same buffer. */
    private static final class Loop implements CompletionHandler {
        private final IoEngine engine;
        private final int fd;
        private final MemorySegment[] buffers = new MemorySegment[QD];
        private long next = 1;
        private boolean stopping;
        long completed;

        Loop(IoEngine engine, int fd, AlignedBuffer all) {
            this.engine = engine;
            this.fd = fd;
            for (int i = 0; i < QD; i++) {
                buffers[i] = all.segment().asSlice(i * 4096L, 4096);
            }
            engine.plug();
            for (int i = 0; i < QD; i++) {
                submit(i);
            }
            engine.unplug();
        }

        private void submit(int slot) {
            next = next * 6364136223846793005L + 1442695040888963407L;
            engine.read(fd, buffers[slot], ((next >>> 40) & 16383) * 4096, this, slot);
        }

        @Override
        public void complete(long tag, long result) {
            if (result != 4096) {
                fail("read " + tag + " returned " + result);
            }
            completed++;
            if (!stopping) {
                submit((int) tag);
            }
        }

        void runUntil(long count) {
            long deadline = System.nanoTime() + 120_000_000_000L;
            while (completed < count) {
                if (System.nanoTime() > deadline) {
                    fail(engine.name() + ": only " + completed + " of " + count + " requests after 120 s");
                }
                engine.awaitCompletions(100_000_000L);
            }
        }

        void stop() {
            stopping = true;
            Recorder.drain(engine);
        }
    }
}
