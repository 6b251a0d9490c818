package io.blockloop.coroutine.bench;

import io.blockloop.aio.IOThread;
import io.blockloop.coroutine.CoMutex;
import io.blockloop.coroutine.Coroutine;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantLock;

/**
 * CoMutex costs, each beside {@link ReentrantLock} doing the same on platform threads.
 * <ul>
 *   <li>Uncontended: lock+unlock by one coroutine ({@value #UNCONTENDED_OPS} pairs per enter, so the enter is
 *       amortised), and by one platform thread.</li>
 *   <li>Contended: two sides increment one shared counter {@value #PER_SIDE} times each under one lock; the
 *       sides are two coroutines in two IOThreads (CoMutex), or two platform threads (ReentrantLock). One
 *       invocation starts both sides, which wait for each other at a start line, and waits for both; the score is
 *       increments per microsecond, start and wait included on both sides. At the end of each trial the benchmark prints how often ownership changed
 *       sides ("switches"), to show how much real hand-off happened.</li>
 *   <li>For reference, a fair ReentrantLock on two platform threads ({@value #FAIR_PER_SIDE} increments per side):
 *       like CoMutex it hands the lock to the longest waiter instead of letting the releasing thread barge.</li>
 * </ul>
 * Run: {@code bin/jmh blockcore 'Coroutine.*' -f 1 -wi 3 -i 5 -w 1s -r 1s}.
 */
@State(Scope.Thread)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class CoroutineMutexBenchmark {
    static final int UNCONTENDED_OPS = 1_000;
    static final int PER_SIDE = 200_000;
    static final int FAIR_PER_SIDE = 2_000;

    private final CoMutex coMutex = new CoMutex();
    private final ReentrantLock reentrantLock = new ReentrantLock();
    long counter;

    // ------------------------------------------------------------------ uncontended

    @Benchmark
    @BenchmarkMode(Mode.AverageTime)
    @OutputTimeUnit(TimeUnit.NANOSECONDS)
    @OperationsPerInvocation(UNCONTENDED_OPS)
    public long coMutexUncontended() {
        Coroutine.create(CoroutineMutexBenchmark::lockUnlockLoop, this).enter();
        return counter;
    }

    private static void lockUnlockLoop(CoroutineMutexBenchmark b) {
        CoMutex m = b.coMutex;
        for (int i = 0; i < UNCONTENDED_OPS; i++) {
            m.lock();
            b.counter++;
            m.unlock();
        }
    }

    @Benchmark
    @BenchmarkMode(Mode.AverageTime)
    @OutputTimeUnit(TimeUnit.NANOSECONDS)
    @OperationsPerInvocation(UNCONTENDED_OPS)
    public long reentrantLockUncontended() {
        ReentrantLock l = reentrantLock;
        for (int i = 0; i < UNCONTENDED_OPS; i++) {
            l.lock();
            counter++;
            l.unlock();
        }
        return counter;
    }

    // ------------------------------------------------------------------ contended, two threads

    /** The shared counter and the side-switch statistics, guarded by the lock under test; and a start line. */
    static class Shared {
        long counter;
        int lastSide = -1;
        long switches;
        final AtomicInteger arrived = new AtomicInteger();

        /**
         * Both sides wait here for each other (at most 1 s) so that they really overlap, whichever thread was
         * started first. The benchmark resets {@code arrived} before it starts the sides.
         */
        void startLine() {
            arrived.incrementAndGet();
            long deadline = System.nanoTime() + 1_000_000_000L;
            while (arrived.get() < 2 && System.nanoTime() - deadline < 0) {
                Thread.onSpinWait();
            }
        }

        void increment(int side) {
            counter++;
            if (side != lastSide) {
                lastSide = side;
                switches++;
            }
        }

        void report(String what) {
            System.out.printf("%n%s: %d increments, %d side switches (one per %.1f increments)%n", what, counter,
                    switches, switches == 0 ? 0.0 : (double) counter / switches);
        }
    }

    /** Two IOThreads and one CoMutex. */
    @State(Scope.Benchmark)
    public static class TwoIOThreads extends Shared {
        final CoMutex mutex = new CoMutex();
        IOThread[] threads;

        @Setup(Level.Trial)
        public void start() {
            threads = new IOThread[] {new IOThread("bench-0").start(), new IOThread("bench-1").start()};
        }

        @TearDown(Level.Trial)
        public void stop() throws InterruptedException {
            for (IOThread t : threads) {
                t.close();
            }
            report("CoMutex, two IOThreads");
        }

        void side(int side, CountDownLatch done) {
            startLine();
            CoMutex m = mutex;
            for (int i = 0; i < PER_SIDE; i++) {
                m.lock();
                increment(side);
                m.unlock();
            }
            done.countDown();
        }
    }

    @Benchmark
    @BenchmarkMode(Mode.Throughput)
    @OperationsPerInvocation(2 * PER_SIDE)
    public long coMutexHandOffTwoIOThreads(TwoIOThreads s) throws Exception {
        CountDownLatch done = new CountDownLatch(2);
        s.arrived.set(0);
        for (int i = 0; i < 2; i++) {
            int side = i;
            s.threads[i].context().scheduleOneShot("bench-start",
                    () -> Coroutine.create(() -> s.side(side, done)).enter());
        }
        await(done);
        return s.counter;
    }

    /** Two platform threads and one ReentrantLock (non-fair, the default). */
    @State(Scope.Benchmark)
    public static class TwoPlatformThreads extends Shared {
        final ReentrantLock lock = newLock();
        final int perSide = perSide();

        ReentrantLock newLock() {
            return new ReentrantLock();
        }

        int perSide() {
            return PER_SIDE;
        }

        String label() {
            return "ReentrantLock, two platform threads";
        }
        final Semaphore[] go = {new Semaphore(0), new Semaphore(0)};
        Thread[] workers;
        volatile CountDownLatch done;
        volatile boolean stopping;

        @Setup(Level.Trial)
        public void start() {
            workers = new Thread[2];
            for (int i = 0; i < 2; i++) {
                int side = i;
                workers[i] = Thread.ofPlatform().name("bench-lock-" + i).start(() -> work(side));
            }
        }

        @TearDown(Level.Trial)
        public void stop() throws InterruptedException {
            stopping = true;
            for (Semaphore g : go) {
                g.release();
            }
            for (Thread w : workers) {
                w.join();
            }
            report(label());
        }

        private void work(int side) {
            ReentrantLock l = lock;
            while (true) {
                go[side].acquireUninterruptibly(); // orders the read of `done` after the benchmark's write
                if (stopping) {
                    return;
                }
                startLine();
                for (int i = 0; i < perSide; i++) {
                    l.lock();
                    increment(side);
                    l.unlock();
                }
                done.countDown();
            }
        }
    }

    /**
     * A fair ReentrantLock for reference: like CoMutex it hands the lock to the longest waiter, here a parked
     * thread. Far slower per increment, hence fewer increments per invocation.
     */
    @State(Scope.Benchmark)
    public static class TwoPlatformThreadsFair extends TwoPlatformThreads {
        @Override
        ReentrantLock newLock() {
            return new ReentrantLock(true);
        }

        @Override
        int perSide() {
            return FAIR_PER_SIDE;
        }

        @Override
        String label() {
            return "fair ReentrantLock, two platform threads";
        }
    }

    @Benchmark
    @BenchmarkMode(Mode.Throughput)
    @OperationsPerInvocation(2 * PER_SIDE)
    public long reentrantLockTwoPlatformThreads(TwoPlatformThreads s) throws Exception {
        return runPlatformSides(s);
    }

    @Benchmark
    @BenchmarkMode(Mode.Throughput)
    @OperationsPerInvocation(2 * FAIR_PER_SIDE)
    public long reentrantLockFairTwoPlatformThreads(TwoPlatformThreadsFair s) throws Exception {
        return runPlatformSides(s);
    }

    private static long runPlatformSides(TwoPlatformThreads s) throws Exception {
        CountDownLatch done = new CountDownLatch(2);
        s.arrived.set(0);
        s.done = done;
        for (Semaphore g : s.go) {
            g.release();
        }
        await(done);
        return s.counter;
    }

    private static void await(CountDownLatch done) throws Exception {
        if (!done.await(60, TimeUnit.SECONDS)) {
            throw new TimeoutException("contended benchmark sides did not finish within 60 s");
        }
    }
}
