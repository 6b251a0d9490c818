package io.blockloop.block.graph.bench;

import io.blockloop.aio.AioContext;
import io.blockloop.block.graph.GraphLock;
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

import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * The graph lock's read fast path (QEMU's {@code bdrv_graph_co_rdlock} + {@code bdrv_graph_co_rdunlock} with no
 * writer): one lock+unlock pair inside a coroutine running in an {@link AioContext}. Each invocation enters a
 * long-lived coroutine that does {@value #PAIRS} pairs and yields, so the enter+yield (about 95 ns) adds under
 * 0.1 ns per pair. Side by side: the same loop with no lock, and with a {@link ReentrantReadWriteLock}'s read
 * lock (one shared atomic counter, the design the per-context counts avoid).
 * Run: {@code bin/jmh blockcore GraphLock -f 1 -wi 3 -i 5 -w 1s -r 1s}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class GraphLockBenchmark {
    static final int PAIRS = 1000;

    long counter;
    private AioContext context;
    private GraphLock graphLock;
    private ReentrantReadWriteLock rwLock;
    private Coroutine graphLoop;
    private Coroutine emptyLoop;
    private Coroutine rwLoop;

    @Setup
    public void setUp() {
        context = AioContext.create("graph-lock-bench"); // home thread: this benchmark thread
        graphLock = new GraphLock("bench");
        rwLock = new ReentrantReadWriteLock();
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

    /** readLock + readUnlock of the graph lock, no writer. */
    @Benchmark
    @OperationsPerInvocation(PAIRS)
    public long graphReadLockUnlock() {
        graphLoop.enterIn(context);
        return counter;
    }

    /** The loop alone: what the two other figures include besides the lock. */
    @Benchmark
    @OperationsPerInvocation(PAIRS)
    public long noLock() {
        emptyLoop.enterIn(context);
        return counter;
    }

    /** ReentrantReadWriteLock's read lock + unlock in the same loop, uncontended. */
    @Benchmark
    @OperationsPerInvocation(PAIRS)
    public long reentrantReadWriteLockRead() {
        rwLoop.enterIn(context);
        return counter;
    }
}
