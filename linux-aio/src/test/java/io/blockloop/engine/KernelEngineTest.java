package io.blockloop.engine;

import io.blockloop.fdmon.FdNode;
import io.blockloop.fdmon.IoUringFdMonitor;
import io.blockloop.fdmon.SharedRing;
import io.blockloop.ffm.errno.Errno;
import io.blockloop.ffm.libc.EventFd;
import io.blockloop.ffm.libc.FileIo;
import io.blockloop.ffm.libc.OpenFlags;
import io.blockloop.ffm.liburing.generated.LibUring;
import io.blockloop.ffm.memory.AlignedBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * What only the kernel-queue engines (linux-aio, io_uring) do: batching, the shared rings, EAGAIN, resubmission, and
 * io_uring on the event loop's ring ({@link IoUringEngine#openShared}), driven here by a monitor of the test's own.
 */
class KernelEngineTest {
    private static final int DIRECT = OpenFlags.O_RDWR | OpenFlags.O_DIRECT;

    @TempDir
    Path dir;

    @Test
    void linuxAioAndIoUringAreAvailableOnThisMachine() {
        assertTrue(LinuxAioEngine.availability().available(), String.valueOf(LinuxAioEngine.availability().reason()));
        assertTrue(IoUringEngine.availability().available(), String.valueOf(IoUringEngine.availability().reason()));
    }

    @Test
    void linuxAioReapsFromTheSharedRing() {
        try (LinuxAioEngine engine = LinuxAioEngine.open()) {
            assertTrue(engine.reapsFromUserspace(), "the aio_ring header was not recognised");
        }
    }

    @Test
    void linuxAioHoldsABatchUntilUnplugOrUntilItIsFull() {
        int fd = TestFiles.createWithPattern(dir.resolve("b.img"), 256 * 1024, DIRECT);
        try (LinuxAioEngine engine = LinuxAioEngine.open(64, 16);
             AlignedBuffer buf = AlignedBuffer.allocate(64 * 4096, 4096)) {
            Recorder rec = new Recorder(64);
            engine.plug();
            for (int i = 0; i < 15; i++) {
                engine.read(fd, buf.segment().asSlice(i * 4096L, 4096), i * 4096L, rec, i);
            }
            assertEquals(0, engine.inFlight(), "submitted inside the batch");
            engine.read(fd, buf.segment().asSlice(15 * 4096L, 4096), 15 * 4096L, rec, 15);
            assertEquals(16, engine.inFlight(), "a full batch (16) goes out at once");
            engine.read(fd, buf.segment().asSlice(16 * 4096L, 4096), 16 * 4096L, rec, 16);
            assertEquals(16, engine.inFlight());
            engine.unplug();
            assertEquals(17, engine.inFlight(), "unplug submits the rest");
            rec.awaitCompleted(engine, 17);
        } finally {
            FileIo.close(fd);
        }
    }

    /**
     * While a reaping pass delivers completions, the requests its handlers submit go to the kernel every
     * {@link LinuxAioEngine#REAP_SUBMIT_BATCH}, not only when the pass ends (the device's queue would run low
     * meanwhile), and the rest at its end.
     */
    @Test
    void linuxAioHandsHandlersRequestsToTheKernelEveryFewWhileReaping() throws Exception {
        int fd = TestFiles.createWithPattern(dir.resolve("r.img"), 256 * 1024, DIRECT);
        int first = 20;
        try (LinuxAioEngine engine = LinuxAioEngine.open(64, 32);
             AlignedBuffer buf = AlignedBuffer.allocate(2 * first * 4096L, 4096)) {
            Recorder rec = new Recorder(2 * first);
            int[] inKernelAfterSubmit = new int[first];
            CompletionHandler resubmits = (tag, result) -> {
                rec.complete(tag, result);
                int t = (int) tag + first;
                engine.read(fd, buf.segment().asSlice(t * 4096L, 4096), (t % 64) * 4096L, rec, t);
                inKernelAfterSubmit[(int) tag] = engine.inFlight();
            };
            for (int i = 0; i < first; i++) {
                engine.read(fd, buf.segment().asSlice(i * 4096L, 4096), i * 4096L, resubmits, i);
            }
            long deadline = System.nanoTime() + 60_000_000_000L;
            while (engine.eventsInRing() < first) { // all 20 completed, none reaped yet
                assertTrue(System.nanoTime() < deadline, "only " + engine.eventsInRing() + " events in 60 s");
                Thread.sleep(1);
            }
            assertEquals(first, engine.poll(), "one pass delivers the 20");
            SubmitsWhileReaping.assertEvery(LinuxAioEngine.REAP_SUBMIT_BATCH, first, inKernelAfterSubmit,
                    engine.inFlight());
            rec.awaitCompleted(engine, 2 * first);
        } finally {
            FileIo.close(fd);
        }
    }

    /**
     * On both own rings, while reaping, the requests the handlers queue go to the kernel every
     * {@link IoUringEngine#REAP_SUBMIT_BATCH}, not all at the pass's end: 20 eventfd reads complete at once
     * (their completions wait for the owner), one pass delivers them, and each handler reads the file.
     */
    @ParameterizedTest(name = "deferred={0}")
    @ValueSource(booleans = {false, true})
    void ioUringHandsHandlersRequestsToTheKernelEveryFewWhileReaping(boolean deferred) {
        try (IoUringEngine engine = deferred ? IoUringEngine.openDeferred() : IoUringEngine.open();
             EventFdReadBurst burst = new EventFdReadBurst(20, dir.resolve("b" + deferred + ".img"))) {
            burst.submit(engine, engine::inFlight);
            assertEquals(burst.count, engine.inFlight());
            burst.signal();
            assertEquals(burst.count, engine.poll(), "one pass delivers the 20");
            SubmitsWhileReaping.assertEvery(IoUringEngine.REAP_SUBMIT_BATCH, burst.count, burst.inKernelAfterSubmit,
                    engine.inFlight());
            burst.rec.awaitCompleted(engine, 2 * burst.count);
            burst.assertResults();
        }
    }

    @Test
    void ioUringsOwnRingRunsTaskWorkCooperatively() {
        // Kernel 5.19 or later (the test machine runs 6.x): completions do not interrupt the owner.
        try (IoUringEngine engine = IoUringEngine.open()) {
            int coop = LibUring.IORING_SETUP_COOP_TASKRUN() | LibUring.IORING_SETUP_TASKRUN_FLAG();
            assertEquals(coop, engine.ringSetupFlags() & coop);
        }
    }

    @Test
    void ioUringHoldsABatchUntilUnplugAndRegistersTheRingFd() {
        int fd = TestFiles.createWithPattern(dir.resolve("u.img"), 256 * 1024, DIRECT);
        try (IoUringEngine engine = IoUringEngine.open(32);
             AlignedBuffer buf = AlignedBuffer.allocate(64 * 4096, 4096)) {
            Recorder rec = new Recorder(64);
            engine.plug();
            for (int i = 0; i < 20; i++) {
                engine.read(fd, buf.segment().asSlice(i * 4096L, 4096), i * 4096L, rec, i);
            }
            assertEquals(0, engine.inFlight(), "submitted inside the batch");
            engine.unplug();
            assertEquals(20, engine.inFlight());
            assertTrue(engine.ringFdRegistered(), "kernel 5.18+ lets the owner register the ring fd");
            rec.awaitCompleted(engine, 20);
            for (int i = 0; i < 20; i++) {
                assertEquals(4096, rec.results[i]);
            }
        } finally {
            FileIo.close(fd);
        }
    }

    /**
     * A kernel context holds fewer requests than the engine lets in flight, so io_submit takes a prefix and then
     * answers EAGAIN: everything stays queued and is retried as completions arrive. {@code io_setup(1)} does not
     * give a 1-slot context: the kernel sizes the ring by the number of possible CPUs (README, "Surprising kernel
     * and JDK facts") and admits at most one request fewer than its slots until events are consumed, which nothing
     * does during one unplug. So the test reads the ring's size first and puts 256 more than that in one batch.
     */
    @Test
    void linuxAioKeepsRequestsQueuedOnEagainAndLosesNone() {
        int fd = TestFiles.createWithPattern(dir.resolve("e.img"), 1 << 20, DIRECT);
        int ringSize;
        try (LinuxAioEngine probe = LinuxAioEngine.openOversubscribed(1, 1, 1)) {
            ringSize = probe.ringSize();
        }
        int n = ringSize + 256;
        try (LinuxAioEngine engine = LinuxAioEngine.openOversubscribed(1, n, n);
             AlignedBuffer buf = AlignedBuffer.allocate(n * 4096L, 4096)) {
            assertEquals(ringSize, engine.ringSize(), "io_setup(1) sized the second ring differently");
            Recorder rec = new Recorder(n);
            engine.plug();
            for (int i = 0; i < n; i++) {
                engine.read(fd, buf.segment().asSlice(i * 4096L, 4096), (i % 256) * 4096L, rec, i);
            }
            engine.unplug();
            assertTrue(engine.eagainCount > 0, "io_submit never answered EAGAIN: " + engine);
            assertTrue(engine.inFlight() < ringSize, engine.inFlight() + " in a ring of " + ringSize);
            rec.awaitCompleted(engine, n);
            for (int i = 0; i < n; i++) {
                assertEquals(4096, rec.results[i], "read " + i);
                assertEquals(1, rec.calls[i]);
                assertNull(TestFiles.checkPatternThenZeros(buf.segment().asSlice(i * 4096L, 4096),
                        (i % 256) * 4096L, 1 << 20));
            }
        } finally {
            FileIo.close(fd);
        }
    }

    /** io_uring asks again for the rest of a short read; the second round hits end of file and zero-fills. */
    @Test
    void ioUringResubmitsTheRestOfAShortRead() {
        try (IoUringEngine engine = IoUringEngine.open(8)) {
            assertShortReadResubmitted(engine);
        }
    }

    /** A 16 KiB O_DIRECT read of a 10,000-byte file: the kernel's short read is resubmitted, the tail zero-filled. */
    private void assertShortReadResubmitted(IoUringEngine engine) {
        int fd = TestFiles.createWithPattern(dir.resolve("s.img"), 10_000, DIRECT);
        try (AlignedBuffer buf = AlignedBuffer.allocate(16384, 4096)) {
            buf.segment().fill((byte) 0x5a);
            Recorder rec = new Recorder(1);
            engine.read(fd, buf.segment(), 0, rec, 0);
            rec.awaitCompleted(engine, 1);
            assertEquals(16384, rec.results[0]);
            assertTrue(engine.resubmitCount > 0, "the short read was not resubmitted");
            assertNull(TestFiles.checkPatternThenZeros(buf.segment(), 0, 10_000));
        } finally {
            FileIo.close(fd);
        }
    }

    /** Waits with {@code monitor} (bounded) until it reports {@code node}; returns the nodes that wait reported. */
    private static List<FdNode> waitUntilReported(IoUringFdMonitor monitor, FdNode node) {
        List<FdNode> reported = new ArrayList<>();
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (!reported.contains(node)) {
            assertTrue(System.nanoTime() < deadline, node + " never reported");
            reported.clear();
            monitor.wait(1_000_000_000L, (n, revents) -> reported.add(n), false);
        }
        return reported;
    }

    /**
     * On the loop's ring too, while the engine delivers completions, the requests its handlers queue go to the kernel
     * every {@link IoUringEngine#REAP_SUBMIT_BATCH}: the engine submits them itself instead of leaving them for the
     * loop's next wait. 20 eventfd reads complete at once, one pass delivers them, each handler reads the file; the 4
     * after the last full batch wait in the SQ ring for the loop's wait.
     */
    @Test
    void ioUringOnTheLoopsRingHandsHandlersRequestsToTheKernelEveryFewWhileReaping() {
        AtomicReference<SharedRing> ring = new AtomicReference<>();
        try (IoUringFdMonitor monitor = IoUringFdMonitor.open();
             IoUringEngine engine = IoUringEngine.openShared(client -> {
                 ring.set(monitor.share(client));
                 return ring.get();
             });
             EventFdReadBurst burst = new EventFdReadBurst(20, dir.resolve("lb.img"))) {
            int first = burst.count;
            FdNode handler = new FdNode(engine.completionFd(), FdNode.READ_EVENTS, "engine");
            monitor.update(null, handler);
            burst.submit(engine, () -> engine.inFlight() - ring.get().sqReady());
            monitor.wait(0, (n, revents) -> fail("nothing is ready yet: " + n), false); // submits the 20
            assertEquals(0, ring.get().sqReady());
            burst.signal(); // the loop's next enter posts the completions
            assertEquals(List.of(handler), waitUntilReported(monitor, handler));
            assertEquals(first, engine.processCompletions(), "one pass delivers the 20");
            SubmitsWhileReaping.assertBatches(IoUringEngine.REAP_SUBMIT_BATCH, first, burst.inKernelAfterSubmit);
            int rest = first % IoUringEngine.REAP_SUBMIT_BATCH;
            assertEquals(first, engine.inFlight(), "the pass's end places the rest");
            assertEquals(rest, ring.get().sqReady(), "the rest waits for the loop's wait");
            long deadline = System.nanoTime() + 60_000_000_000L;
            while (burst.rec.completed < 2 * first) {
                assertTrue(System.nanoTime() < deadline, "stuck at " + burst.rec.completed + ": " + engine);
                waitUntilReported(monitor, handler);
                engine.processCompletions();
            }
            burst.assertResults();
            monitor.update(handler, null);
        }
    }

    @Test
    void ioUringOnTheLoopsRingQueuesSqesThatTheLoopsWaitSubmitsAndReportsAsTheCompletionFd() {
        int fd = TestFiles.createWithPattern(dir.resolve("l.img"), 256 * 1024, DIRECT);
        try (IoUringFdMonitor monitor = IoUringFdMonitor.open();
             IoUringEngine engine = IoUringEngine.openShared(monitor::share);
             AlignedBuffer buf = AlignedBuffer.allocate(64 * 4096, 4096)) {
            assertTrue(engine.onSharedRing());
            assertTrue(monitor.isShared());
            assertThrows(IllegalStateException.class, () -> IoUringEngine.openShared(monitor::share),
                    "a second engine on the same ring");
            FdNode handler = new FdNode(engine.completionFd(), FdNode.READ_EVENTS, "engine");
            monitor.update(null, handler);
            monitor.wait(0, (n, revents) -> fail("nothing is ready yet: " + n), false);

            Recorder rec = new Recorder(64);
            engine.plug();
            for (int i = 0; i < 20; i++) {
                engine.read(fd, buf.segment().asSlice(i * 4096L, 4096), i * 4096L, rec, i);
            }
            assertEquals(0, engine.inFlight(), "placed inside the batch");
            assertFalse(monitor.needWait(false), "nothing queued on the ring yet");
            engine.unplug();
            assertEquals(20, engine.inFlight(), "unplug places the batch on the loop's ring");
            assertTrue(monitor.needWait(false), "the loop must wait to submit the batch");
            assertFalse(engine.ringFdRegistered(), "the engine registers no ring fd of its own");

            long deadline = System.nanoTime() + 10_000_000_000L;
            while (rec.completed < 20) {
                assertTrue(System.nanoTime() < deadline, "stuck at " + rec.completed);
                int before = rec.completed;
                List<FdNode> reported = waitUntilReported(monitor, handler);
                assertEquals(List.of(handler), reported);
                assertEquals(before, rec.completed, "handlers ran inside the monitor's wait");
                assertTrue(engine.processCompletions() > 0, "reported readable with nothing recorded");
            }
            for (int i = 0; i < 20; i++) {
                assertEquals(4096, rec.results[i]);
                assertEquals(1, rec.calls[i]);
                assertNull(TestFiles.checkPatternThenZeros(buf.segment().asSlice(i * 4096L, 4096), i * 4096L,
                        256 * 1024));
            }
            assertEquals(0, engine.inFlight());
            monitor.update(handler, null);
            monitor.wait(0, (n, revents) -> fail("removed: " + n), false);
            assertTrue(handler.isReleased());
        } finally {
            FileIo.close(fd);
        }
    }

    @Test
    void ioUringOnTheLoopsRingKeepsAtMostHalfItsCqRingInTheKernelAndClosingReturnsTheRing() {
        int fd = TestFiles.createWithPattern(dir.resolve("h.img"), 1 << 20, DIRECT);
        int n = 600;
        try (IoUringFdMonitor monitor = IoUringFdMonitor.open();
             AlignedBuffer buf = AlignedBuffer.allocate(n * 4096L, 4096)) {
            IoUringEngine engine = IoUringEngine.openShared(monitor::share);
            int limit = engine.sqEntries();
            assertEquals(IoUringFdMonitor.ENTRIES, limit, "half of the monitor's CQ ring (twice its SQ ring)");
            Recorder rec = new Recorder(n);
            for (int i = 0; i < n; i++) {
                engine.read(fd, buf.segment().asSlice(i * 4096L, 4096), (i % 256) * 4096L, rec, i);
                assertTrue(engine.inFlight() <= limit, "in flight: " + engine.inFlight());
            }
            assertTrue(engine.backlogCount > 0, "the engine never held requests back");
            long deadline = System.nanoTime() + 60_000_000_000L;
            while (rec.completed < n) {
                assertTrue(System.nanoTime() < deadline, "stuck at " + rec.completed);
                engine.awaitCompletions(100_000_000L);
                assertTrue(engine.inFlight() <= limit, "in flight: " + engine.inFlight());
            }
            for (int i = 0; i < n; i++) {
                assertEquals(4096, rec.results[i], "read " + i);
                assertEquals(1, rec.calls[i]);
            }
            engine.close();
            assertFalse(monitor.isShared(), "close gives the ring back");
            try (IoUringEngine next = IoUringEngine.openShared(monitor::share)) {
                assertTrue(next.onSharedRing());
            }
        } finally {
            FileIo.close(fd);
        }
    }

    /**
     * The IoEngine contract holds on the loop's ring when another fd of the loop stays ready: awaitCompletions
     * without a limit returns only with a completion delivered, and leaves that fd for the loop's next wait.
     */
    @Test
    void ioUringOnTheLoopsRingAwaitsItsOwnCompletionWhileAnotherFdOfTheLoopStaysReady() {
        int fd = TestFiles.createWithPattern(dir.resolve("r.img"), 64 * 1024, DIRECT);
        try (IoUringFdMonitor monitor = IoUringFdMonitor.open();
             EventFd event = EventFd.create();
             IoUringEngine engine = IoUringEngine.openShared(monitor::share);
             AlignedBuffer buf = AlignedBuffer.allocate(16 * 4096, 4096)) {
            FdNode eventNode = new FdNode(event.fd(), FdNode.READ_EVENTS, "eventfd");
            monitor.update(null, eventNode);
            event.signal();
            assertEquals(List.of(eventNode), waitUntilReported(monitor, eventNode));
            Recorder rec = new Recorder(16);
            for (int i = 0; i < 16; i++) {
                engine.read(fd, buf.segment().asSlice(i * 4096L, 4096), i * 4096L, rec, i);
                int before = rec.completed;
                int delivered = engine.awaitCompletions(-1);
                assertTrue(delivered > 0 && rec.completed > before, "returned " + delivered + " with nothing delivered");
            }
            Recorder.drain(engine);
            for (int i = 0; i < 16; i++) {
                assertEquals(4096, rec.results[i]);
            }
            assertEquals(List.of(eventNode), waitUntilReported(monitor, eventNode), "the eventfd is still ready");
            monitor.update(eventNode, null);
            for (int i = 0; i < 100 && !eventNode.isReleased(); i++) {
                monitor.wait(1_000_000, (n, revents) -> { }, false);
            }
            assertTrue(eventNode.isReleased());
        } finally {
            FileIo.close(fd);
        }
    }

    /** The short-read resubmission also works when the loop's wait (here: awaitCompletions) submits. */
    @Test
    void ioUringOnTheLoopsRingResubmitsTheRestOfAShortRead() {
        try (IoUringFdMonitor monitor = IoUringFdMonitor.open();
             IoUringEngine engine = IoUringEngine.openShared(monitor::share)) {
            assertShortReadResubmitted(engine);
        }
    }
    /** The loop's monitor closed before the engine (its ring took every request down): close still finishes. */
    @Test
    void ioUringOnTheLoopsRingClosesAfterTheMonitorWithRequestsQueued() {
        int fd = TestFiles.createWithPattern(dir.resolve("m.img"), 64 * 1024, DIRECT);
        try (AlignedBuffer buf = AlignedBuffer.allocate(4 * 4096, 4096)) {
            IoUringFdMonitor monitor = IoUringFdMonitor.open();
            IoUringEngine engine = IoUringEngine.openShared(monitor::share);
            Recorder rec = new Recorder(4);
            for (int i = 0; i < 4; i++) {
                engine.read(fd, buf.segment().asSlice(i * 4096L, 4096), i * 4096L, rec, i);
            }
            assertEquals(4, engine.inFlight(), "placed on the loop's ring, not submitted");
            monitor.close();
            engine.close(); // must return: nothing can complete on a closed ring
            assertEquals(4, rec.completed);
            for (int i = 0; i < 4; i++) {
                assertEquals(-Errno.ECANCELED, rec.results[i]);
            }
            assertEquals(0, engine.outstanding());
        } finally {
            FileIo.close(fd);
        }
    }

    /**
     * Closing from another thread while the loop is stopped: SQEs the loop placed but never submitted are turned
     * into no-ops and their requests cancelled, requests already in the kernel are waited for; afterwards the
     * loop's next wait submits the no-ops and ignores their completions.
     */
    @Test
    void ioUringOnTheLoopsRingClosedFromAnotherThreadCancelsWhatWasNeverSubmitted() throws Exception {
        int fd = TestFiles.createWithPattern(dir.resolve("t.img"), 64 * 1024, DIRECT);
        try (IoUringFdMonitor monitor = IoUringFdMonitor.open();
             AlignedBuffer buf = AlignedBuffer.allocate(4 * 4096, 4096)) {
            IoUringEngine engine = IoUringEngine.openShared(monitor::share);
            FdNode handler = new FdNode(engine.completionFd(), FdNode.READ_EVENTS, "engine");
            monitor.update(null, handler);
            Recorder rec = new Recorder(4);
            engine.read(fd, buf.segment().asSlice(0, 4096), 0, rec, 0);
            waitUntilReported(monitor, handler); // submitted and completed by the loop's wait, not delivered yet
            engine.read(fd, buf.segment().asSlice(4096, 4096), 4096, rec, 1);
            engine.read(fd, buf.segment().asSlice(8192, 4096), 8192, rec, 2);
            assertEquals(3, engine.inFlight());
            AtomicReference<Throwable> failure = new AtomicReference<>();
            Thread closer = Thread.ofPlatform().start(() -> {
                try {
                    engine.close();
                } catch (Throwable t) {
                    failure.set(t);
                }
            });
            closer.join(30_000);
            assertFalse(closer.isAlive(), "close from another thread hung");
            assertNull(failure.get());
            assertEquals(4096, rec.results[0], "reaped before the close: delivered by it");
            assertEquals(-Errno.ECANCELED, rec.results[1]);
            assertEquals(-Errno.ECANCELED, rec.results[2]);
            assertEquals(3, rec.completed);
            monitor.update(handler, null);
            monitor.wait(0, (n, revents) -> fail("the cancelled no-ops are not reported: " + n), false);
            assertFalse(monitor.needWait(false), "the no-ops went out and their CQEs were ignored");
        } finally {
            FileIo.close(fd);
        }
    }
}
