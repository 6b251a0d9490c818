package io.blockloop.fdmon;

import io.blockloop.ffm.libc.EventFd;
import io.blockloop.ffm.libc.FileIo;
import io.blockloop.ffm.libc.OpenFlags;
import io.blockloop.ffm.libc.Pipe;
import io.blockloop.ffm.libc.Poll;
import io.blockloop.ffm.testing.OpenFds;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What every {@link FdMonitor} must do, run against poll, epoll and io_uring. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class FdMonitorContractTest {

    /** Waits (blocking, bounded) until the sink got something; fails instead of hanging. */
    private static void waitForReports(FdMonitor monitor, RecordingSink sink) {
        waitForReports(monitor, sink, 5);
    }

    /** Waits (blocking, at most {@code seconds}) until the sink got something; fails instead of hanging. */
    private static void waitForReports(FdMonitor monitor, RecordingSink sink, int seconds) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (sink.reports.isEmpty()) {
            long left = deadline - System.nanoTime();
            assertTrue(left > 0, "no readiness reported within " + seconds + " s");
            monitor.wait(left, sink, false);
        }
    }

    @ParameterizedTest
    @EnumSource(TestMonitor.class)
    void reportsAReadableEventFdOnlyWhileItIsReadable(TestMonitor which) {
        try (FdMonitor monitor = which.open(); EventFd e = EventFd.create()) {
            FdNode node = new FdNode(e.fd(), FdNode.READ_EVENTS, "owner");
            monitor.update(null, node);
            RecordingSink sink = new RecordingSink();
            assertEquals(0, monitor.wait(0, sink, false));
            assertTrue(sink.reports.isEmpty());

            e.signal();
            waitForReports(monitor, sink);
            assertEquals(List.of(node), sink.nodes());
            assertEquals(Poll.POLLIN, sink.reventsOf(node) & Poll.POLLIN);
            assertEquals("owner", sink.nodes().getFirst().owner());

            // Level-triggered: still readable, so reported again.
            sink.clear();
            waitForReports(monitor, sink);
            assertEquals(List.of(node), sink.nodes());

            e.drain();
            sink.clear();
            monitor.wait(0, sink, false);
            // io_uring may deliver the completion of the poll re-armed before the drain once more; after
            // that wait its re-armed poll sees the drained fd.
            sink.clear();
            monitor.wait(0, sink, false);
            assertTrue(sink.reports.isEmpty(), "drained eventfd still reported: " + sink.reports);
            monitor.update(node, null);
        }
    }

    @ParameterizedTest
    @EnumSource(TestMonitor.class)
    void aTimedWaitWithNothingReadyReturnsNothing(TestMonitor which) {
        try (FdMonitor monitor = which.open(); EventFd e = EventFd.create()) {
            FdNode node = new FdNode(e.fd(), FdNode.READ_EVENTS, null);
            monitor.update(null, node);
            RecordingSink sink = new RecordingSink();
            // Sub-millisecond and multi-millisecond timeouts both come back, with nothing reported.
            assertEquals(0, monitor.wait(200_000, sink, false));
            assertEquals(0, monitor.wait(3_000_000, sink, false));
            assertTrue(sink.reports.isEmpty());
            monitor.update(node, null);
        }
    }

    @ParameterizedTest
    @EnumSource(TestMonitor.class)
    void aWaitWithoutTimeoutIsWokenByAnotherThread(TestMonitor which) throws Exception {
        try (FdMonitor monitor = which.open(); EventFd e = EventFd.create()) {
            FdNode node = new FdNode(e.fd(), FdNode.READ_EVENTS, null);
            monitor.update(null, node);
            RecordingSink sink = new RecordingSink();
            monitor.wait(0, sink, false);
            CountDownLatch waiting = new CountDownLatch(1);
            Thread signaller = Thread.ofPlatform().start(() -> {
                try {
                    waiting.await();
                    Thread.sleep(20);
                } catch (InterruptedException ignored) {
                    Thread.currentThread().interrupt();
                }
                e.signal();
            });
            waiting.countDown();
            while (sink.reports.isEmpty()) {
                monitor.wait(-1, sink, false);
            }
            assertEquals(List.of(node), sink.nodes());
            signaller.join();
            monitor.update(node, null);
        }
    }

    @ParameterizedTest
    @EnumSource(TestMonitor.class)
    void reportsWritabilityAndHangup(TestMonitor which) {
        try (FdMonitor monitor = which.open(); Pipe pipe = Pipe.create(OpenFlags.O_NONBLOCK | OpenFlags.O_CLOEXEC)) {
            FdNode writer = new FdNode(pipe.writeFd(), FdNode.WRITE_EVENTS, null);
            monitor.update(null, writer);
            RecordingSink sink = new RecordingSink();
            waitForReports(monitor, sink);
            assertEquals(Poll.POLLOUT, sink.reventsOf(writer) & Poll.POLLOUT);
            monitor.update(writer, null);
        }
        try (FdMonitor monitor = which.open()) {
            Pipe pipe = Pipe.create(OpenFlags.O_NONBLOCK | OpenFlags.O_CLOEXEC);
            FdNode reader = new FdNode(pipe.readFd(), FdNode.READ_EVENTS, null);
            monitor.update(null, reader);
            RecordingSink sink = new RecordingSink();
            monitor.wait(0, sink, false);
            assertTrue(sink.reports.isEmpty());
            FileIo.close(pipe.writeFd());
            waitForReports(monitor, sink);
            assertEquals(Poll.POLLHUP, sink.reventsOf(reader) & Poll.POLLHUP);
            monitor.update(reader, null);
            monitor.wait(0, sink, false);
            FileIo.close(pipe.readFd());
        }
    }

    /**
     * A node with events 0 is registered but not watched: nothing is reported for it, not even a hang-up or an error.
     * io_uring armed a POLL_ADD with mask 0, the kernel added POLLERR|POLLHUP, and every wait returned at once with a
     * POLLHUP report (a spinning loop). The same holds for a node replaced by one with mask 0.
     */
    @ParameterizedTest
    @EnumSource(TestMonitor.class)
    void aNodeWithoutEventsIsNeverReportedEvenHungUp(TestMonitor which) {
        try (FdMonitor monitor = which.open()) {
            // Not closed as a whole: the write ends are closed on their own, and a second close could hit a reuse.
            Pipe pipe = Pipe.create(OpenFlags.O_NONBLOCK | OpenFlags.O_CLOEXEC);
            Pipe other = Pipe.create(OpenFlags.O_NONBLOCK | OpenFlags.O_CLOEXEC);
            FdNode unwatched = new FdNode(pipe.readFd(), 0, "unwatched");
            FdNode watched = new FdNode(other.readFd(), FdNode.READ_EVENTS, "watched");
            monitor.update(null, unwatched);
            monitor.update(null, watched);
            RecordingSink sink = new RecordingSink();
            monitor.wait(0, sink, false);
            FdNode muted = new FdNode(other.readFd(), 0, "muted");
            monitor.update(watched, muted);
            FileIo.close(pipe.writeFd());
            FileIo.close(other.writeFd());
            for (int i = 0; i < 3; i++) {
                monitor.wait(1_000_000, sink, false);
            }
            assertTrue(sink.reports.isEmpty(), "a node with events 0 was reported: " + sink.reports);
            monitor.update(unwatched, null);
            monitor.update(muted, null);
            for (int i = 0; !(unwatched.isReleased() && muted.isReleased() && watched.isReleased()); i++) {
                assertTrue(i < 1000, "a node was never released");
                monitor.wait(1_000_000, sink, false);
            }
            assertTrue(sink.reports.isEmpty(), "a node with events 0 was reported: " + sink.reports);
            FileIo.close(pipe.readFd());
            FileIo.close(other.readFd());
        }
    }

    /**
     * A sink that throws loses no readiness: the fd stays watched and the next wait reports it again
     * (level-triggered). io_uring consumed the CQE and threw before re-arming the poll, so the fd was never reported
     * again.
     */
    @ParameterizedTest
    @EnumSource(TestMonitor.class)
    void aReadyFdIsReportedAgainAfterTheSinkThrew(TestMonitor which) {
        try (FdMonitor monitor = which.open(); EventFd e = EventFd.create()) {
            FdNode node = new FdNode(e.fd(), FdNode.READ_EVENTS, "node");
            monitor.update(null, node);
            monitor.wait(0, new RecordingSink(), false);
            e.signal();
            IllegalStateException thrown = new IllegalStateException("sink failure");
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (true) {
                long left = deadline - System.nanoTime();
                assertTrue(left > 0, "the signalled eventfd was never reported");
                try {
                    monitor.wait(left, (n, revents) -> {
                        throw thrown;
                    }, false);
                } catch (IllegalStateException x) {
                    assertTrue(x == thrown, String.valueOf(x));
                    break;
                }
            }
            RecordingSink sink = new RecordingSink();
            waitForReports(monitor, sink);
            assertEquals(List.of(node), sink.nodes());
            monitor.update(node, null);
        }
    }

    /**
     * {@code update(n, n)} is refused and changes nothing: the node stays registered, watched and not released. Poll
     * and epoll kept it registered but marked it released; io_uring added and removed it.
     */
    @ParameterizedTest
    @EnumSource(TestMonitor.class)
    void aNodeReplacingItselfIsRefusedAndStaysRegistered(TestMonitor which) {
        try (FdMonitor monitor = which.open(); EventFd e = EventFd.create()) {
            FdNode node = new FdNode(e.fd(), FdNode.READ_EVENTS, "node");
            monitor.update(null, node);
            RecordingSink sink = new RecordingSink();
            monitor.wait(0, sink, false);
            IllegalArgumentException x = assertThrows(IllegalArgumentException.class, () -> monitor.update(node, node));
            assertTrue(x.getMessage().contains("both the old and the new node"), x.getMessage());
            e.signal();
            waitForReports(monitor, sink);
            assertEquals(List.of(node), sink.nodes());
            assertFalse(node.isReleased(), "a node that is still registered was released");
            monitor.update(node, null);
        }
    }

    /**
     * A removed (released) node cannot be added again: io_uring never reported it again, poll and epoll reported it
     * with {@code isReleased() == true}. The fd is registered again with a new node.
     */
    @ParameterizedTest
    @EnumSource(TestMonitor.class)
    void aReleasedNodeCannotBeAddedAgain(TestMonitor which) {
        try (FdMonitor monitor = which.open(); EventFd e = EventFd.create()) {
            FdNode node = new FdNode(e.fd(), FdNode.READ_EVENTS, "first");
            monitor.update(null, node);
            RecordingSink sink = new RecordingSink();
            monitor.wait(0, sink, false);
            monitor.update(node, null);
            for (int i = 0; !node.isReleased(); i++) {
                assertTrue(i < 1000, "removed node never released");
                monitor.wait(1_000_000, sink, false);
            }
            IllegalArgumentException x = assertThrows(IllegalArgumentException.class, () -> monitor.update(null, node));
            assertTrue(x.getMessage().contains("released"), x.getMessage());
            FdNode again = new FdNode(e.fd(), FdNode.READ_EVENTS, "again");
            monitor.update(null, again);
            e.signal();
            sink.clear();
            waitForReports(monitor, sink);
            assertEquals(List.of(again), sink.nodes());
            monitor.update(again, null);
        }
    }

    /**
     * A node that is registered cannot be added again, to the same or another monitor, and the refusal changes
     * nothing: one removal releases it and it is never reported again. Poll kept two copies (the one left after a
     * removal was polled and reported while released); epoll's second EPOLL_CTL_ADD failed with EEXIST and sent the
     * monitor back to poll for good.
     */
    /**
     * A node the monitor never took cannot be removed or replaced there, and nothing changes: poll always refused
     * it; io_uring queued a REMOVE in the flag word of another monitor's node, or of a node never added.
     */
    @ParameterizedTest
    @EnumSource(TestMonitor.class)
    void aNodeTheMonitorNeverTookCannotBeRemovedThere(TestMonitor which) {
        try (FdMonitor monitor = which.open(); FdMonitor other = which.open(); EventFd e = EventFd.create()) {
            FdNode foreign = new FdNode(e.fd(), FdNode.READ_EVENTS, "foreign");
            assertThrows(IllegalArgumentException.class, () -> monitor.update(foreign, null));
            other.update(null, foreign);
            assertThrows(IllegalArgumentException.class, () -> monitor.update(foreign, null));
            FdNode replacement = new FdNode(e.fd(), FdNode.READ_EVENTS, "replacement");
            assertThrows(IllegalArgumentException.class, () -> monitor.update(foreign, replacement));
            // The other monitor still watches its node, and the refused replacement can still be added elsewhere.
            e.signal();
            RecordingSink sink = new RecordingSink();
            waitForReports(other, sink);
            assertEquals(List.of(foreign), sink.nodes());
            assertFalse(foreign.isReleased());
            other.update(foreign, null);
            e.drain();
            monitor.update(null, replacement);
            monitor.update(replacement, null);
        }
    }

    @ParameterizedTest
    @EnumSource(TestMonitor.class)
    void aRegisteredNodeCannotBeAddedTwice(TestMonitor which) {
        try (FdMonitor monitor = which.open(); FdMonitor other = which.open(); EventFd e = EventFd.create();
             EventFd spare = EventFd.create()) {
            FdNode node = new FdNode(e.fd(), FdNode.READ_EVENTS, "node");
            monitor.update(null, node);
            RecordingSink sink = new RecordingSink();
            monitor.wait(0, sink, false);
            IllegalArgumentException x = assertThrows(IllegalArgumentException.class, () -> monitor.update(null, node));
            assertTrue(x.getMessage().contains("already registered"), x.getMessage());
            x = assertThrows(IllegalArgumentException.class, () -> other.update(null, node));
            assertTrue(x.getMessage().contains("another monitor"), x.getMessage());
            // Nor as the replacement of another node, which stays registered.
            FdNode spareNode = new FdNode(spare.fd(), FdNode.READ_EVENTS, "spare");
            monitor.update(null, spareNode);
            assertThrows(IllegalArgumentException.class, () -> monitor.update(spareNode, node));
            e.signal();
            spare.signal();
            monitor.wait(0, sink, false);
            monitor.update(node, null);
            for (int i = 0; i < 5 || !node.isReleased(); i++) {
                assertTrue(i < 1000, "removed node never released");
                sink.clear();
                monitor.wait(1_000_000, sink, false);
            }
            assertEquals(List.of(spareNode), sink.nodes(), "only the spare may be reported after the removal");
            assertFalse(spareNode.isReleased());
            monitor.update(spareNode, null);
        }
    }

    @ParameterizedTest
    @EnumSource(TestMonitor.class)
    void replacingANodeChangesTheEventsAndTheOwner(TestMonitor which) {
        try (FdMonitor monitor = which.open(); Pipe pipe = Pipe.create(OpenFlags.O_NONBLOCK | OpenFlags.O_CLOEXEC)) {
            // The write end of an empty pipe is writable but never readable.
            FdNode readOnly = new FdNode(pipe.writeFd(), FdNode.READ_EVENTS, "read");
            monitor.update(null, readOnly);
            RecordingSink sink = new RecordingSink();
            monitor.wait(1_000_000, sink, false);
            assertTrue(sink.reports.isEmpty(), "write end reported readable: " + sink.reports);

            FdNode writable = new FdNode(pipe.writeFd(), FdNode.WRITE_EVENTS, "write");
            monitor.update(readOnly, writable);
            waitForReports(monitor, sink);
            for (RecordingSink.Report report : sink.reports) {
                assertEquals(writable, report.node(), "only the replacement may be reported");
            }
            monitor.update(writable, null);
        }
    }

    /**
     * An fd closed while registered is reported at most once, as an error, and does not make every later wait
     * return at once: poll reported POLLNVAL on each wait, which the loop did not dispatch, and an idle loop spun
     * at 100 % CPU. (epoll forgets a closed fd by itself; io_uring's armed poll holds the file and never fires.)
     */
    @ParameterizedTest
    @EnumSource(TestMonitor.class)
    void anFdClosedWhileRegisteredIsReportedAtMostOnceAsAnError(TestMonitor which) {
        try (FdMonitor monitor = which.open()) {
            EventFd e = EventFd.create();
            FdNode node = new FdNode(e.fd(), FdNode.READ_EVENTS, null);
            monitor.update(null, node);
            RecordingSink sink = new RecordingSink();
            monitor.wait(0, sink, false);
            e.close();
            for (int i = 0; i < 3; i++) {
                monitor.wait(1_000_000, sink, false);
            }
            assertTrue(sink.reports.size() <= 1, "reported on every wait: " + sink.reports);
            if (!sink.reports.isEmpty()) {
                assertEquals(Poll.POLLERR | Poll.POLLNVAL, sink.reventsOf(node));
            }
            sink.clear();
            assertEquals(0, monitor.wait(1_000_000, sink, false), "a wait after the report returned at once");
            monitor.update(node, null);
        }
    }

    @ParameterizedTest
    @EnumSource(TestMonitor.class)
    void aRemovedNodeIsNeverReportedAgainAndIsReleased(TestMonitor which) {
        try (FdMonitor monitor = which.open(); EventFd e = EventFd.create(); EventFd other = EventFd.create()) {
            FdNode node = new FdNode(e.fd(), FdNode.READ_EVENTS, null);
            FdNode keeper = new FdNode(other.fd(), FdNode.READ_EVENTS, null);
            monitor.update(null, node);
            monitor.update(null, keeper);
            RecordingSink sink = new RecordingSink();
            monitor.wait(0, sink, false);
            monitor.update(node, null);
            e.signal();
            other.signal();
            // Several waits: io_uring releases the node once the cancelled poll has completed.
            for (int i = 0; i < 5 || !node.isReleased(); i++) {
                assertTrue(i < 1000, "removed node never released");
                monitor.wait(1_000_000, sink, false);
            }
            assertFalse(sink.nodes().contains(node), "removed node reported: " + sink.reports);
            assertTrue(sink.nodes().contains(keeper));
            assertFalse(keeper.isReleased());
            monitor.update(keeper, null);
        }
    }

    @ParameterizedTest
    @EnumSource(TestMonitor.class)
    void amongManyIdleFdsOnlyTheReadyOnesAreReported(TestMonitor which) {
        List<EventFd> fds = new ArrayList<>();
        List<FdNode> nodes = new ArrayList<>();
        try (FdMonitor monitor = which.open()) {
            for (int i = 0; i < 1024; i++) {
                EventFd e = EventFd.create();
                fds.add(e);
                FdNode node = new FdNode(e.fd(), FdNode.READ_EVENTS, i);
                nodes.add(node);
                monitor.update(null, node);
            }
            RecordingSink sink = new RecordingSink();
            monitor.wait(0, sink, false);
            assertTrue(sink.reports.isEmpty());
            Set<Integer> ready = Set.of(0, 63, 64, 500, 1023);
            for (int i : ready) {
                fds.get(i).signal();
            }
            Set<Object> seen = new HashSet<>();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (seen.size() < ready.size()) {
                assertTrue(System.nanoTime() < deadline, "saw only " + seen);
                sink.clear();
                monitor.wait(10_000_000, sink, false);
                sink.nodes().forEach(n -> seen.add(n.owner()));
            }
            assertEquals(Set.copyOf(ready), seen);
            for (FdNode node : nodes) {
                monitor.update(node, null);
            }
            monitor.wait(0, sink, false);
        } finally {
            fds.forEach(EventFd::close);
        }
    }

    @ParameterizedTest
    @EnumSource(TestMonitor.class)
    void nodesAddedFromOtherThreadsAreWatchedByTheNextWait(TestMonitor which) throws Exception {
        int threads = 4;
        int perThread = 50;
        List<EventFd> fds = new ArrayList<>();
        try (FdMonitor monitor = which.open()) {
            for (int i = 0; i < threads * perThread; i++) {
                fds.add(EventFd.create());
            }
            List<Thread> adders = new ArrayList<>();
            List<FdNode> nodes = java.util.Collections.synchronizedList(new ArrayList<>());
            for (int t = 0; t < threads; t++) {
                int base = t * perThread;
                adders.add(Thread.ofPlatform().start(() -> {
                    for (int i = base; i < base + perThread; i++) {
                        FdNode node = new FdNode(fds.get(i).fd(), FdNode.READ_EVENTS, i);
                        nodes.add(node);
                        monitor.update(null, node);
                    }
                }));
            }
            RecordingSink sink = new RecordingSink();
            while (adders.stream().anyMatch(Thread::isAlive)) {
                monitor.wait(100_000, sink, false);
            }
            for (Thread adder : adders) {
                adder.join();
            }
            fds.forEach(EventFd::signal);
            Set<Object> seen = new HashSet<>();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (seen.size() < fds.size()) {
                assertTrue(System.nanoTime() < deadline, "saw only " + seen.size());
                sink.clear();
                monitor.wait(10_000_000, sink, false);
                sink.nodes().forEach(n -> seen.add(n.owner()));
            }
            for (FdNode node : nodes) {
                monitor.update(node, null);
            }
            monitor.wait(0, sink, false);
        } finally {
            fds.forEach(EventFd::close);
        }
    }

    @ParameterizedTest
    @EnumSource(TestMonitor.class)
    void closingReleasesEveryKernelObjectAndNode(TestMonitor which) {
        int before = OpenFds.count();
        FdNode node;
        try (EventFd e = EventFd.create()) {
            FdMonitor monitor = which.open();
            node = new FdNode(e.fd(), FdNode.READ_EVENTS, null);
            monitor.update(null, node);
            e.signal();
            RecordingSink sink = new RecordingSink();
            waitForReports(monitor, sink);
            assertNotEquals(before, OpenFds.count());
            monitor.close();
            monitor.close();
        }
        assertTrue(node.isReleased());
        assertEquals(before, OpenFds.count(), "fds leaked by " + which);
    }

    @ParameterizedTest
    @EnumSource(TestMonitor.class)
    void needWaitFollowsTheMonitorsView(TestMonitor which) {
        try (FdMonitor monitor = which.open(); EventFd e = EventFd.create()) {
            FdNode node = new FdNode(e.fd(), FdNode.READ_EVENTS, null);
            monitor.update(null, node);
            if (!monitor.seesReadinessWithoutWaiting()) {
                assertTrue(monitor.needWait(true));
                assertFalse(monitor.needWait(false));
                monitor.update(node, null);
                return;
            }
            // io_uring: a queued change must be applied by a wait...
            assertTrue(monitor.needWait(false));
            RecordingSink sink = new RecordingSink();
            monitor.wait(0, sink, false);
            assertFalse(monitor.needWait(true), "nothing queued, nothing completed");
            // ...and readiness shows up in the CQ ring without a system call.
            e.signal();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (!monitor.needWait(false)) {
                assertTrue(System.nanoTime() < deadline, "completion never appeared in the CQ ring");
                Thread.onSpinWait();
            }
            monitor.wait(0, sink, false);
            assertEquals(List.of(node), sink.nodes());
            monitor.update(node, null);
        }
    }

    /** After close() an update is refused: epoll's fd number may belong to another monitor's epoll fd by then. */
    @ParameterizedTest
    @EnumSource(TestMonitor.class)
    void updateAfterCloseIsRefused(TestMonitor which) {
        try (EventFd e = EventFd.create()) {
            FdMonitor monitor = which.open();
            monitor.wait(0, new RecordingSink(), false);
            monitor.close();
            IllegalStateException x = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class,
                    () -> monitor.update(null, new FdNode(e.fd(), FdNode.READ_EVENTS, "late")));
            assertTrue(x.getMessage().contains("is closed"), x.getMessage());
        }
    }

    /**
     * close() from another thread while the home thread waits is refused, and the wait goes on and returns normally.
     * The io_uring monitor used to unmap its ring under the wait (SIGSEGV); poll and epoll were left half closed.
     *
     * <p>The close meets the wait whatever the schedule: the closer waits until the monitor says a wait is running
     * (set as {@code wait} starts, before it can block), and only the closer's signal, sent after the close, ends
     * that wait (short of a signal handler run on the home thread, EINTR, which nothing here sends). The closer used
     * to sleep 200 ms instead; a home thread slower than that saw the close succeed and its wait throw.
     */
    @ParameterizedTest
    @EnumSource(TestMonitor.class)
    void closeFromAnotherThreadDuringAWaitIsRefused(TestMonitor which) throws Exception {
        try (FdMonitor monitor = which.open(); EventFd e = EventFd.create()) {
            FdNode node = new FdNode(e.fd(), FdNode.READ_EVENTS, "wake");
            monitor.update(null, node);
            List<Throwable> refused = new ArrayList<>(); // the closer's; read after join(), which orders it
            Thread closer = Thread.ofPlatform().start(() -> {
                try {
                    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                    while (!TestMonitor.waitInProgress(monitor)) {
                        if (System.nanoTime() - deadline > 0) {
                            throw new AssertionError("the home thread's wait was not seen running within 10 s");
                        }
                        LockSupport.parkNanos(TimeUnit.MICROSECONDS.toNanos(100));
                    }
                    monitor.close();
                } catch (Throwable t) {
                    refused.add(t);
                } finally {
                    e.signal(); // what ends the wait
                }
            });
            RecordingSink sink = new RecordingSink();
            try {
                waitForReports(monitor, sink, 15); // longer than the closer's 10 s: the closer fails first
            } finally {
                closer.join(); // before the eventfd is closed: the closer signals it
            }
            assertEquals(List.of(node), sink.nodes());
            assertEquals(1, refused.size(), String.valueOf(refused));
            Throwable t = refused.getFirst();
            assertTrue(t instanceof IllegalStateException && t.getMessage().contains("while its home thread waits"),
                    String.valueOf(refused));
            assertFalse(TestMonitor.waitInProgress(monitor), "the wait returned");
            monitor.update(node, null);
        }
    }

    /**
     * A handler replaced on an fd number that was closed and reused (the old registration went with the old file):
     * the new file's readiness is reported. epoll skipped the kernel call (same fd, same mask) and never reported it.
     */
    @ParameterizedTest
    @EnumSource(TestMonitor.class)
    void aNewNodeForAReusedFdNumberIsWatched(TestMonitor which) {
        try (FdMonitor monitor = which.open()) {
            EventFd first = EventFd.create();
            int fd = first.fd();
            FdNode old = new FdNode(fd, FdNode.READ_EVENTS, "old");
            monitor.update(null, old);
            monitor.wait(0, new RecordingSink(), false);
            first.close();
            try (EventFd second = EventFd.create()) {
                assertEquals(fd, second.fd(), "POSIX gives the lowest free number: the one just closed");
                FdNode replacement = new FdNode(fd, FdNode.READ_EVENTS, "new");
                monitor.update(old, replacement);
                second.signal();
                RecordingSink sink = new RecordingSink();
                waitForReports(monitor, sink);
                assertEquals(List.of(replacement), sink.nodes());
                monitor.update(replacement, null);
            }
        }
    }
}
