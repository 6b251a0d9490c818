package io.blockloop.aio;

import io.blockloop.coroutine.Coroutine;
import io.blockloop.fdmon.FdMonitorKind;
import io.blockloop.ffm.errno.Errno;
import io.blockloop.ffm.errno.NativeCallException;
import io.blockloop.ffm.libc.CpuAffinity;
import io.blockloop.ffm.libc.EventFd;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.time.Duration;
import java.util.BitSet;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** IOThread lifecycle, the current/main context, and AioWait from the main loop. Fresh main loop per test. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class IOThreadTest {
    private AioContext main;

    @BeforeEach
    void startMainLoop() {
        main = MainLoop.init(FdMonitorKind.AUTO);
    }

    @AfterEach
    void endMainLoop() {
        main.close();
        assertNull(AioContext.main());
        assertNull(AioContext.current());
    }

    @Test
    void theMainContextIsTheInitThreadsCurrentContext() {
        assertSame(main, AioContext.main());
        assertSame(main, AioContext.current());
        assertTrue(main.inHomeThread());
        assertTrue(MainLoop.isMainThread());
        assertThrows(IllegalStateException.class, () -> MainLoop.init(FdMonitorKind.POLL));
        assertEquals(PollParams.OFF, main.pollParams(), "the main loop does not busy-poll");
    }

    /** Closed before it started, an IOThread stays closed: a thread started afterwards had nobody to close it. */
    @Test
    void anIoThreadClosedBeforeItStartedCannotStart() {
        IOThread io = new IOThread("never");
        io.close();
        io.close();
        IllegalStateException e = assertThrows(IllegalStateException.class, io::start);
        assertEquals("IOThread 'never' was closed before it started", e.getMessage());
        assertFalse(io.thread().isAlive());
        assertThrows(IllegalStateException.class, io::context);
    }

    @ParameterizedTest
    @EnumSource(value = FdMonitorKind.class, names = {"POLL", "EPOLL", "IO_URING"})
    void startStopJoin(FdMonitorKind kind) throws Exception {
        IOThread io = new IOThread("lifecycle", kind);
        assertThrows(IllegalStateException.class, io::context);
        io.start();
        AioContext ctx = io.context();
        assertEquals(kind, ctx.monitorKind());
        assertTrue(io.isRunning());
        assertEquals("IO lifecycle", io.thread().getName());
        assertFalse(ctx.inHomeThread());
        assertEquals(PollParams.ioThreadDefault(), ctx.pollParams());
        assertThrows(IllegalStateException.class, () -> ctx.poll(false), "only the home thread polls");

        AtomicReference<AioContext> currentInside = new AtomicReference<>();
        AtomicBoolean homeInside = new AtomicBoolean();
        CountDownLatch ran = new CountDownLatch(1);
        ctx.scheduleOneShot("probe", () -> {
            currentInside.set(AioContext.current());
            homeInside.set(ctx.inHomeThread());
            ran.countDown();
        });
        Loops.await(ran, "a BH in the IOThread");
        assertSame(ctx, currentInside.get());
        assertTrue(homeInside.get());

        io.stop();
        io.stop(); // idempotent
        assertTrue(io.join(Duration.ofSeconds(10)));
        assertFalse(io.thread().isAlive());
        assertTrue(ctx.isClosed(), "the IOThread closes its context when it ends");
        assertThrows(IllegalStateException.class, io::start);
    }

    /**
     * close() right after start(), many times: the stop it schedules must not be followed by a write to the eventfd
     * the loop already closed (an audit saw 2 EBADF failures in 2000 cycles; the number could also have been
     * another file's by then). LoopNotifier's signallers now hold the eventfd's close back.
     */
    @Test
    void closingRightAfterStartingNeverWritesAClosedEventfd() {
        for (int i = 0; i < 1000; i++) {
            IOThread t = new IOThread("quick-" + i).start();
            t.close();
        }
    }

    /** close() and join() from the IOThread itself are refused: they waited for themselves forever. */
    @Test
    void closeOrJoinFromItsOwnThreadIsRefused() throws Exception {
        try (IOThread io = new IOThread("self").start()) {
            AtomicReference<Throwable> close = new AtomicReference<>();
            AtomicReference<Throwable> join = new AtomicReference<>();
            CountDownLatch ran = new CountDownLatch(1);
            io.context().scheduleOneShot("self-close", () -> {
                close.set(assertThrows(IllegalStateException.class, io::close));
                join.set(assertThrows(IllegalStateException.class, io::join));
                ran.countDown();
            });
            assertTrue(ran.await(30, TimeUnit.SECONDS));
            assertTrue(close.get().getMessage().contains("would wait for itself"), close.get().getMessage());
            assertTrue(join.get().getMessage().contains("would wait for itself"), join.get().getMessage());
            assertTrue(io.isRunning(), "the loop goes on");
        }
    }

    /** A VM error in a callback ends the IOThread visibly: isRunning() turns false and close() names the error. */
    @Test
    void anErrorThatEndsTheLoopIsReportedByClose() throws Exception {
        IOThread io = new IOThread("err").start();
        io.context().scheduleOneShot("overflow", () -> {
            throw new StackOverflowError("test");
        });
        io.thread().join(TimeUnit.SECONDS.toMillis(30));
        assertFalse(io.isRunning());
        IllegalStateException e = assertThrows(IllegalStateException.class, io::close);
        assertTrue(e.getCause() instanceof StackOverflowError, String.valueOf(e.getCause()));
    }

    /**
     * close() of an IOThread's context from another thread while the IOThread polls it is refused (with io_uring
     * the loop then crashed on the unmapped ring); IOThread.close() stops the loop first and works.
     */
    @Test
    void closingAContextFromAnotherThreadWhileItPollsIsRefused() throws Exception {
        IOThread io = new IOThread("busy").start();
        CountDownLatch inside = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        io.context().scheduleOneShot("hold the poll", () -> { // a BH runs inside poll(): the loop is polling
            inside.countDown();
            try {
                release.await();
            } catch (InterruptedException ex) {
                Thread.currentThread().interrupt();
            }
        });
        assertTrue(inside.await(30, TimeUnit.SECONDS));
        try {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> io.context().close());
            assertTrue(e.getMessage().contains("while its home thread polls it"), e.getMessage());
        } finally {
            release.countDown();
        }
        io.close();
    }

    /** A handler on an fd that is not open is refused: poll reported POLLNVAL forever, an idle loop spun. */
    @Test
    void aHandlerOnAClosedFdIsRefused() {
        io.blockloop.ffm.libc.EventFd e = io.blockloop.ffm.libc.EventFd.create();
        int fd = e.fd();
        e.close();
        IllegalArgumentException x = assertThrows(IllegalArgumentException.class,
                () -> main.setFdHandler(fd, FdCallbacks.read(() -> { })));
        assertTrue(x.getMessage().contains("is not open"), x.getMessage());
        main.removeFdHandler(fd); // removing needs no open fd
    }

    /** A negative timeout has run out at once; Long.MIN_VALUE overflowed the deadline and waited forever. */
    @Test
    void waitWhileWithTheMostNegativeTimeoutReturnsAtOnce() {
        assertFalse(AioWait.waitWhile(main, () -> true, Long.MIN_VALUE));
        assertFalse(AioWait.waitWhile(main, () -> true, -1));
    }

    @Test
    void pinToCpuPinsTheLoopThreadAndRefusesACpuItMayNotUse() throws Exception {
        BitSet allowed = CpuAffinity.currentThreadCpus();
        int cpu = allowed.length() - 1;
        try (IOThread io = new IOThread("pinned", FdMonitorKind.POLL).start()) {
            io.pinToCpu(cpu);
            AtomicReference<BitSet> seen = new AtomicReference<>();
            CountDownLatch looked = new CountDownLatch(1);
            io.context().scheduleOneShot("look", () -> {
                seen.set(CpuAffinity.currentThreadCpus());
                looked.countDown();
            });
            assertTrue(looked.await(10, TimeUnit.SECONDS));
            BitSet one = new BitSet();
            one.set(cpu);
            assertEquals(one, seen.get(), "the IOThread runs on the CPU it was pinned to");
            assertEquals(allowed, CpuAffinity.currentThreadCpus(), "the caller's own affinity is untouched");

            NativeCallException e = assertThrows(NativeCallException.class, () -> io.pinToCpu(CpuAffinity.CPU_SETSIZE - 1));
            assertEquals(Errno.EINVAL, e.errno());
            assertTrue(io.isRunning(), "a refused pin does not hurt the loop");
            io.stop();
            assertThrows(IllegalStateException.class, () -> io.pinToCpu(cpu));
        }
    }

    /**
     * Asking an IOThread from another IOThread's loop is refused: that loop would stop while it waited, and two
     * IOThreads asking each other at once (pollingStats, pinToCpu) waited for good.
     */
    @Test
    void anotherIoThreadsLoopMayNotWaitForAnAnswer() throws Exception {
        try (IOThread one = new IOThread("one").start(); IOThread two = new IOThread("two").start()) {
            AtomicReference<Throwable> refused = new AtomicReference<>();
            CountDownLatch asked = new CountDownLatch(2);
            one.context().scheduleOneShot("ask-two", () -> {
                refused.compareAndSet(null, assertThrows(IllegalStateException.class, two::pollingStats));
                asked.countDown();
            });
            two.context().scheduleOneShot("ask-one", () -> {
                assertThrows(IllegalStateException.class, () -> one.pinToCpu(0));
                asked.countDown();
            });
            assertTrue(asked.await(10, TimeUnit.SECONDS), "an IOThread waited for the other");
            assertEquals("IOThread 'two' asked to report its polling from the loop thread of context 'one': waiting"
                    + " there would stop that loop; ask from the main loop or a plain thread",
                    refused.get().getMessage());
            two.pollingStats(); // a plain thread still may
        }
    }

    /**
     * {@link IOThread#pollingStats()} answers any thread, reading the counters on the loop thread: nothing with
     * polling off; windows that found work once a polled handler's work comes; refused once the thread stopped.
     */
    @Test
    void pollingStatsAreReadOnTheLoopThreadForAnyCaller() throws Exception {
        try (IOThread quiet = new IOThread("stats-off", FdMonitorKind.POLL, PollParams.OFF).start()) {
            assertEquals(PollingStats.NONE, quiet.pollingStats(), "spun with polling off");
            AtomicReference<PollingStats> own = new AtomicReference<>();
            CountDownLatch read = new CountDownLatch(1);
            quiet.context().scheduleOneShot("own-stats", () -> {
                own.set(quiet.pollingStats()); // on the IOThread itself: read directly, no BH to wait for
                read.countDown();
            });
            assertTrue(read.await(10, TimeUnit.SECONDS));
            assertEquals(PollingStats.NONE, own.get());
            quiet.stop();
            quiet.join();
            assertThrows(IllegalStateException.class, quiet::pollingStats);
        }
        // The eventfd outlives the thread (closed after it), so the loop never watches a closed fd.
        try (EventFd e = EventFd.create();
             IOThread io = new IOThread("stats-on", FdMonitorKind.POLL, new PollParams(1_000_000, 0, 0)).start()) {
            AtomicBoolean work = new AtomicBoolean();
            AtomicInteger found = new AtomicInteger();
            io.context().setEventNotifier(e, e::drain, work::get, () -> {
                work.set(false);
                found.incrementAndGet();
            });
            e.signal(); // dispatched once, the handler joins the polled set
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (found.get() == 0 && System.nanoTime() < deadline) {
                work.set(true); // only a poll check sees it; the BH makes the loop go round to its next window
                io.context().scheduleOneShot("kick", () -> {
                });
                Thread.sleep(5);
            }
            assertTrue(found.get() > 0, "no window found the work");
            PollingStats stats = io.pollingStats();
            assertTrue(stats.windowsFoundWork() >= 1 && stats.windows() >= stats.windowsFoundWork(), stats.toString());
            io.context().removeEventNotifier(e);
        }
    }

    @Test
    void aLeakedBhIsReportedByJoin() throws Exception {
        IOThread io = new IOThread("leaky", FdMonitorKind.POLL).start();
        io.context().newBottomHalf("never-deleted", () -> {
        });
        io.stop();
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> io.join(Duration.ofSeconds(10)));
        assertTrue(e.getMessage().contains("BH 'never-deleted' leaked"), e.getMessage());
    }

    /**
     * A thread schedules one-shot BHs as fast as it can while the IOThread closes. Each must either run or be refused
     * to the scheduler. Before the BH queue was sealed, one landing between the loop's last pass and the context's
     * close was accepted and never ran (and close() reported it as leaked, or, after the drain, not at all).
     */
    @Test
    void oneShotsScheduledWhileTheThreadClosesRunOrAreRefused() throws Exception {
        for (int round = 0; round < 100; round++) {
            IOThread io = new IOThread("racing-close-" + round, FdMonitorKind.POLL).start();
            AioContext ctx = io.context();
            AtomicInteger accepted = new AtomicInteger();
            AtomicInteger ran = new AtomicInteger();
            AtomicReference<IllegalStateException> refusal = new AtomicReference<>();
            CountDownLatch scheduling = new CountDownLatch(1);
            Thread scheduler = Thread.ofPlatform().start(() -> {
                for (;;) {
                    try {
                        ctx.scheduleOneShot("racer", ran::incrementAndGet);
                    } catch (IllegalStateException e) {
                        refusal.set(e);
                        return;
                    }
                    accepted.incrementAndGet();
                    scheduling.countDown();
                }
            });
            assertTrue(scheduling.await(10, TimeUnit.SECONDS));
            io.close(); // throws if a BH was left queued ("leaked")
            scheduler.join();
            assertTrue(refusal.get().getMessage().contains("is closed"), refusal.get().getMessage());
            assertEquals(accepted.get(), ran.get(), "round " + round + ": every accepted BH ran");
        }
    }

    /**
     * Threads schedule coroutines into an IOThread's context (a bounded backlog each round) while it closes. Each
     * schedule must either run its coroutine or be refused to its scheduler, and the close must report nothing left.
     * Before the scheduled list was sealed, a coroutine that passed the "is it closing?" check was linked into the
     * list, then its BH schedule met the sealed BH queue: the scheduler was told "context is closed", and the close
     * reported the coroutine as left ("scheduled coroutines left"), or the last pass ran it anyway. Without the seal
     * this failed within the first 120 rounds in each of 5 runs.
     *
     * <p>Its own timeout, a hang guard only: 300 rounds of a new IOThread and three spinning schedulers can take
     * longer than the class's 30 s on a loaded machine without anything being wrong.
     */
    @Test
    @Timeout(value = 300, unit = TimeUnit.SECONDS)
    void coroutinesScheduledWhileTheThreadClosesRunOrAreRefused() throws Exception {
        int schedulers = 3;
        for (int round = 0; round < 300; round++) {
            IOThread io = new IOThread("co-racing-close-" + round, FdMonitorKind.POLL).start();
            AioContext ctx = io.context();
            AtomicInteger accepted = new AtomicInteger();
            AtomicInteger ran = new AtomicInteger();
            Queue<String> wrongRefusals = new ConcurrentLinkedQueue<>();
            CountDownLatch scheduling = new CountDownLatch(schedulers);
            Thread[] threads = new Thread[schedulers];
            for (int i = 0; i < schedulers; i++) {
                threads[i] = Thread.ofPlatform().start(() -> {
                    for (;;) {
                        // A bounded backlog: a flood of millions kept the IOThread busy for seconds before its stop.
                        while (accepted.get() - ran.get() >= 100 && io.thread().isAlive()) {
                            Thread.yield();
                        }
                        Coroutine co = Coroutine.create(ran::incrementAndGet);
                        try {
                            co.schedule(ctx);
                        } catch (IllegalStateException e) {
                            if (!e.getMessage().contains("is closing")) {
                                wrongRefusals.add(e.getMessage());
                            }
                            // The refusal undid the "scheduled" mark, and nothing else holds the coroutine: its
                            // scheduler may run it itself (a stale mark would refuse the enter).
                            try {
                                co.enter();
                            } catch (IllegalStateException stale) {
                                wrongRefusals.add("entering the refused coroutine: " + stale.getMessage());
                            }
                            scheduling.countDown(); // a refusal before any acceptance still lets the close go on
                            return;
                        }
                        accepted.incrementAndGet();
                        scheduling.countDown();
                    }
                });
            }
            assertTrue(scheduling.await(10, TimeUnit.SECONDS));
            io.close(); // throws if the context closed with scheduled coroutines left
            for (Thread t : threads) {
                t.join();
            }
            assertEquals(List.of(), List.copyOf(wrongRefusals), "round " + round);
            assertEquals(accepted.get() + schedulers, ran.get(), "round " + round
                    + ": every accepted coroutine ran in the IOThread, and each refused one in its scheduler only");
        }
    }

    @Test
    void anUnavailableMonitorFailsStartWithTheReason() {
        IOThread io = new IOThread("broken", () -> {
            throw new IllegalStateException("no monitor here");
        }, PollParams.OFF);
        IllegalStateException e = assertThrows(IllegalStateException.class, io::start);
        assertTrue(e.getCause().getMessage().contains("no monitor here"));
    }

    @ParameterizedTest
    @EnumSource(value = FdMonitorKind.class, names = {"POLL", "EPOLL", "IO_URING"})
    void theMainLoopWaitsForWorkDoneInAnIOThread(FdMonitorKind kind) throws Exception {
        try (IOThread io = new IOThread("worker", kind).start()) {
            AioContext ctx = io.context();
            AtomicBoolean done = new AtomicBoolean();
            AtomicReference<Thread> ranOn = new AtomicReference<>();
            Timer slow = ctx.newTimer("slow-work", () -> {
                ranOn.set(Thread.currentThread());
                done.set(true);
                AioWait.kick();
            });
            slow.modAfterNs(TimeUnit.MILLISECONDS.toNanos(20));
            // The main thread blocks in its own loop until the IOThread's kick wakes it.
            assertTrue(AioWait.waitWhile(ctx, () -> !done.get(), Loops.BOUND_NS), "AioWait timed out");
            assertSame(io.thread(), ranOn.get());
            assertEquals(0, AioWait.waiters());

            // aio_wait_bh_oneshot: run something there, synchronously from here.
            AtomicReference<AioContext> seen = new AtomicReference<>();
            AioWait.runInContext(ctx, () -> seen.set(AioContext.current()));
            assertSame(ctx, seen.get());
            assertNotSame(main, seen.get());
            slow.delete();
        }
    }

    @Test
    void waitingForAnotherThreadsContextOutsideTheMainThreadIsRefused() throws Exception {
        try (IOThread a = new IOThread("a", FdMonitorKind.POLL).start();
             IOThread b = new IOThread("b", FdMonitorKind.POLL).start()) {
            AtomicReference<Throwable> thrown = new AtomicReference<>();
            CountDownLatch ran = new CountDownLatch(1);
            a.context().scheduleOneShot("wait-for-b", () -> {
                try {
                    AioWait.waitWhile(b.context(), () -> true);
                } catch (IllegalStateException e) {
                    thrown.set(e);
                }
                ran.countDown();
            });
            Loops.await(ran, "the attempt");
            assertTrue(thrown.get() instanceof IllegalStateException);
        }
    }

    @Test
    void aTimedWaitGivesUpWithoutHanging() {
        assertFalse(AioWait.waitWhile(main, () -> true, TimeUnit.MILLISECONDS.toNanos(30)));
        assertEquals(0, AioWait.waiters());
    }
}
