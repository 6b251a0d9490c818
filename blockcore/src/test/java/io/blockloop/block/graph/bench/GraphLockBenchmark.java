package io.blockloop.block.graph.bench;

import io.blockloop.aio.AioContext;
import io.blockloop.block.graph.GraphLock;
import io.blockloop.block.graph.ReaderCount;
import io.blockloop.coroutine.Coroutine;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * The graph lock's read fast path (QEMU's {@code bdrv_graph_co_rdlock} + {@code bdrv_graph_co_rdunlock} with no
 * writer): one lock+unlock pair inside a coroutine running in an {@link AioContext}. Each invocation enters a
 * long-lived coroutine that does {@value #PAIRS} pairs and yields, so the enter+yield (about 95 ns) adds under
 * 0.1 ns per pair. Side by side: the same loop with no lock, and with a {@link ReentrantReadWriteLock}'s read lock
 * (one shared atomic reader count, the design the per-context counts avoid); once on one thread, and once on two
 * threads sharing the lock, each with its own context (there the shared count's cache line moves between cores).
 * Run: {@code bin/jmh blockcore GraphLock -f 1 -wi 3 -i 5 -w 1s -r 1s}; add
 * {@code -jvmArgsAppend -Dblockloop.graphLock.readerFences=true} for QEMU's reader fences instead of membarrier.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class GraphLockBenchmark {
    static final int PAIRS = 1000;

    /** The locks, shared by every benchmark thread. */
    @State(Scope.Benchmark)
    public static class Locks {
        final GraphLock graphLock = new GraphLock("bench");
        final ReentrantReadWriteLock rwLock = new ReentrantReadWriteLock();
    }

    /** One context per benchmark thread (its home thread) and the coroutines that loop in it. */
    @State(Scope.Thread)
    public static class Loops {
        long counter;
        AioContext context;
        Coroutine graphLoop;
        Coroutine requestPathLoop;
        Coroutine emptyLoop;
        Coroutine rwLoop;

        @Setup
        public void setUp(Locks locks) {
            context = AioContext.create("graph-lock-bench-" + Thread.currentThread().getName());
            GraphLock graphLock = locks.graphLock;
            ReentrantReadWriteLock rwLock = locks.rwLock;
            graphLoop = Coroutine.create(() -> {
                for (;;) {
                    for (int i = 0; i < PAIRS; i++) {
                        graphLock.readLock();
                        counter++;
                        graphLock.readUnlock();
                    }
                    Coroutine.yield();
                }
            });
            requestPathLoop = Coroutine.create(() -> {
                for (;;) {
                    Coroutine self = Coroutine.self();
                    for (int i = 0; i < PAIRS; i++) {
                        ReaderCount readers = graphLock.readLock(self, self.context());
                        counter++;
                        graphLock.readUnlock(self, readers);
                    }
                    Coroutine.yield();
                }
            });
            emptyLoop = Coroutine.create(() -> {
                for (;;) {
                    for (int i = 0; i < PAIRS; i++) {
                        counter++;
                    }
                    Coroutine.yield();
                }
            });
            rwLoop = Coroutine.create(() -> {
                for (;;) {
                    for (int i = 0; i < PAIRS; i++) {
                        rwLock.readLock().lock();
                        counter++;
                        rwLock.readLock().unlock();
                    }
                    Coroutine.yield();
                }
            });
        }

        @TearDown
        public void tearDown() {
            context.close(); // the loops stay suspended; they are not scheduled anywhere
        }
    }

    /** readLock + readUnlock of the graph lock, no writer, one thread. */
    @Benchmark
    @OperationsPerInvocation(PAIRS)
    public long graphReadLockUnlock(Loops loops) {
        loops.graphLoop.enterIn(loops.context);
        return loops.counter;
    }

    /**
     * The pair as {@code BlockBackend} takes it: coroutine and context already known, the unlock given the count
     * the lock returned (no lookups). One thread.
     */
    @Benchmark
    @OperationsPerInvocation(PAIRS)
    public long graphReadLockUnlockRequestPath(Loops loops) {
        loops.requestPathLoop.enterIn(loops.context);
        return loops.counter;
    }

    /** The loop alone: what the other figures include besides the lock. */
    @Benchmark
    @OperationsPerInvocation(PAIRS)
    public long noLock(Loops loops) {
        loops.emptyLoop.enterIn(loops.context);
        return loops.counter;
    }

    /** ReentrantReadWriteLock's read lock + unlock in the same loop, uncontended, one thread. */
    @Benchmark
    @OperationsPerInvocation(PAIRS)
    public long rwLockRead(Loops loops) {
        loops.rwLoop.enterIn(loops.context);
        return loops.counter;
    }

    /** {@link #graphReadLockUnlock} on two threads at once, each in its own context, one lock. */
    @Benchmark
    @Threads(2)
    @OperationsPerInvocation(PAIRS)
    public long graphReadLockUnlockTwoThreads(Loops loops) {
        loops.graphLoop.enterIn(loops.context);
        return loops.counter;
    }

    /** {@link #rwLockRead} on two threads at once, one lock. */
    @Benchmark
    @Threads(2)
    @OperationsPerInvocation(PAIRS)
    public long rwLockReadTwoThreads(Loops loops) {
        loops.rwLoop.enterIn(loops.context);
        return loops.counter;
    }
}
