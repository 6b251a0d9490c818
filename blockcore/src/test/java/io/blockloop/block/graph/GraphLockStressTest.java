package io.blockloop.block.graph;

import io.blockloop.aio.AioContext;
import io.blockloop.aio.MainLoop;
import io.blockloop.aio.testing.IoThreads;
import io.blockloop.coroutine.Coroutine;
import io.blockloop.fdmon.FdMonitorKind;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Four IOThreads run reader coroutines that take the read lock in a loop (some yield or move to another
 * IOThread while they hold it) while the main loop takes the write lock 1000 times. A shared "inside" counter
 * proves exclusion from both sides: the writer finds no reader inside, and no reader finds the writer inside.
 * The writer's {@link DrainAll} pauses new readers as a drained {@code BlockBackend} would queue new requests.
 * At the end every reader has finished and the reader total is zero.
 *
 * <p>Watchdog: the writer takes the lock with {@link GraphLock#tryWriteLock} bounded by 10 s, and every other
 * wait is bounded too, so a deadlock or a leaked reader fails the test (with the lock's counts) instead of
 * hanging it.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class GraphLockStressTest {
    private static final int IO_THREADS = 4;
    private static final int READERS_PER_THREAD = 8;
    private static final int WRITES = 1000;
    private static final long WRITE_WATCHDOG_NS = IoThreads.BOUND.toNanos();

    private AioContext main;

    @BeforeEach
    void startMainLoop() {
        main = MainLoop.init(FdMonitorKind.AUTO);
    }

    @AfterEach
    void endMainLoop() {
        main.close();
    }

    @Test
    void readersInFourIOThreadsNeverOverlapAThousandWrites() {
        PausingDrain drain = new PausingDrain();
        GraphLock lock = new GraphLock("stress", drain);
        AtomicInteger inside = new AtomicInteger();
        AtomicBoolean writerInside = new AtomicBoolean();
        AtomicBoolean stopping = new AtomicBoolean();
        AtomicInteger running = new AtomicInteger();
        AtomicLong readSections = new AtomicLong();
        AtomicLong moves = new AtomicLong();
        long sleepersSeen = 0;
        AtomicReference<Throwable> failure = new AtomicReference<>();
        int readers = IO_THREADS * READERS_PER_THREAD;

        try (IoThreads io = new IoThreads("stress", IO_THREADS)) {
            for (int i = 0; i < readers; i++) {
                running.incrementAndGet();
                io.startCoroutine(i % IO_THREADS, () -> {
                    try {
                        readLoop(io, lock, drain, inside, writerInside, stopping, readSections, moves);
                    } catch (Throwable t) {
                        failure.compareAndSet(null, t);
                    } finally {
                        running.decrementAndGet();
                    }
                });
            }
            IoThreads.waitUntil(() -> readSections.get() >= readers, () -> "readers started");

            for (int w = 0; w < WRITES && failure.get() == null; w++) {
                if (!lock.tryWriteLock(WRITE_WATCHDOG_NS)) {
                    fail("write " + w + ": the writer waited " + IoThreads.BOUND.toSeconds()
                            + " s for readers (deadlock or leaked reader): " + describe(lock, io, inside));
                }
                writerInside.set(true);
                // Stay a moment, looking for a reader that got in anyway.
                for (int k = 0; k < 200; k++) {
                    int in = inside.get();
                    if (in != 0) {
                        fail("write " + w + ": " + in + " reader(s) inside while the writer holds the lock; "
                                + describe(lock, io, inside));
                    }
                    Thread.onSpinWait();
                }
                writerInside.set(false);
                sleepersSeen += lock.sleepingReaders();
                lock.writeUnlock();
                awaitReadProgress(readSections, READERS_PER_THREAD);
            }
            stopping.set(true);
            IoThreads.waitUntil(() -> running.get() == 0,
                    () -> "all readers finished (" + running.get() + " left; " + describe(lock, io, inside) + ")");
            assertNull(failure.get(), () -> "a reader failed: " + failure.get());
            assertEquals(0, lock.readerCount(), "no reader count leaked");
            assertEquals(0, lock.sleepingReaders());
            assertEquals(WRITES, drain.begins.get());
            System.out.printf("graph lock stress: %d writes, %d read sections, %d moves while holding, %d readers"
                    + " asleep at writeUnlock (summed)%n", WRITES, readSections.get(), moves.get(), sleepersSeen);
        }
        assertEquals(0, lock.readerCount(), "the orphaned counts of the closed contexts sum to zero");
    }

    /**
     * One reader: waits while the writer quiesces, takes the read lock, checks the writer is out, sometimes yields
     * or moves to another IOThread while holding the lock, checks again, leaves; then lets the other coroutines of
     * its context run.
     */
    private static void readLoop(IoThreads io, GraphLock lock, PausingDrain drain, AtomicInteger inside,
                                 AtomicBoolean writerInside, AtomicBoolean stopping, AtomicLong readSections,
                                 AtomicLong moves) {
        // Per coroutine, not ThreadLocalRandom: the coroutine changes threads.
        SplittableRandom random = new SplittableRandom();
        Coroutine self = Coroutine.self();
        while (!stopping.get()) {
            drain.pauseWhileQuiesced(self); // a drained BlockBackend would queue the request here
            lock.readLock();
            inside.incrementAndGet();
            if (writerInside.get()) {
                throw new AssertionError("a reader got in while the writer holds the lock");
            }
            int what = random.nextInt(16);
            if (what == 0) {
                if (moveTo(self, io.ctx(random.nextInt(IO_THREADS)))) { // holds the lock across the move
                    moves.incrementAndGet();
                }
            } else if (what == 1) {
                yieldToOthers(self);
            }
            if (writerInside.get()) {
                throw new AssertionError("the writer got in while a reader holds the lock");
            }
            inside.decrementAndGet();
            lock.readUnlock();
            readSections.incrementAndGet();
            yieldToOthers(self);
        }
    }

    /**
     * Moves the running coroutine to {@code target} as {@link Coroutine#rescheduleSelf} does (a one-shot BH of its
     * current context schedules it there once it has yielded), without rescheduleSelf's home-thread check: that
     * check reads {@link Thread#currentThread()}, which in this C2-compiled loop may still name the thread before
     * the previous move (see the package documentation of io.blockloop.block.graph). Returns whether it moved.
     */
    private static boolean moveTo(Coroutine self, AioContext target) {
        AioContext from = self.context();
        if (from == target) {
            return false;
        }
        from.scheduleOneShot("stress-move", () -> self.schedule(target));
        Coroutine.yield();
        return true;
    }

    /**
     * Between two writes, lets the readers complete {@code sections} more read sections (the restarted sleepers and
     * the paused ones), so that every write meets readers arriving, leaving and moving. Bounded.
     */
    private static void awaitReadProgress(AtomicLong readSections, int sections) {
        long target = readSections.get() + sections;
        long deadline = System.nanoTime() + IoThreads.BOUND.toNanos();
        while (readSections.get() < target) {
            if (System.nanoTime() - deadline > 0) {
                fail("the readers made no progress between two writes for " + IoThreads.BOUND.toSeconds() + " s");
            }
            Thread.yield();
        }
    }

    /** Lets the other coroutines of this context run: schedules itself behind them and yields. */
    private static void yieldToOthers(Coroutine self) {
        self.schedule(self.context());
        Coroutine.yield();
    }

    /**
     * The writer's quiesce, as a drained {@code BlockBackend} does it: readers that arrive while it is on park
     * themselves, and {@link #end()} wakes them.
     */
    private static final class PausingDrain implements DrainAll {
        final AtomicInteger begins = new AtomicInteger();
        private final AtomicBoolean quiesced = new AtomicBoolean();
        private final ConcurrentLinkedQueue<Coroutine> paused = new ConcurrentLinkedQueue<>();

        @Override
        public void beginNoPoll() {
            begins.incrementAndGet();
            quiesced.set(true);
        }

        @Override
        public void end() {
            quiesced.set(false); // volatile store, then the poll of the queue: pairs with pauseWhileQuiesced
            Coroutine co;
            while ((co = paused.poll()) != null) {
                co.wake(); // scheduled in its IOThread's context
            }
        }

        /** Coroutine: returns at once, or after the quiesce ended. */
        void pauseWhileQuiesced(Coroutine self) {
            while (quiesced.get()) {
                paused.add(self);
                // Re-check after joining (Dekker with end(): volatile add then volatile read, against volatile
                // store then poll). Not quiesced any more: leave, unless end() already took us (it wakes us).
                if (quiesced.get() || !paused.remove(self)) {
                    Coroutine.yield();
                }
            }
        }
    }

    private static String describe(GraphLock lock, IoThreads io, AtomicInteger inside) {
        StringBuilder s = new StringBuilder("readers ").append(lock.readerCount()).append(" (orphaned ")
                .append(lock.orphanedReaderCount());
        for (int i = 0; i < io.size(); i++) {
            s.append(", ").append(io.ctx(i).name()).append(' ').append(lock.readerCountOf(io.ctx(i)));
        }
        return s.append("), sleeping ").append(lock.sleepingReaders()).append(", inside ").append(inside.get())
                .append(", hasWriter ").append(lock.hasWriter()).toString();
    }
}
