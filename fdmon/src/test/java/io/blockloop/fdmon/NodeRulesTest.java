package io.blockloop.fdmon;

import io.blockloop.ffm.libc.EventFd;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Rules about nodes that the three monitors now keep alike, each found by an audit of the SPI (session 26) where one
 * monitor broke it: a wait reports a node at most once; a node without events on a watched fd takes nothing from
 * the watched node; a change keeps the fd; removing a node twice changes nothing, and replacing a removed one is
 * refused; closing releases every node, the shared ring's client node too.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class NodeRulesTest {
    /** Waits until {@code sink} has a report, at most {@code ms} milliseconds. */
    private static void waitForReport(FdMonitor monitor, RecordingSink sink, long ms) {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(ms);
        long left;
        while (sink.reports.isEmpty() && (left = deadline - System.nanoTime()) > 0) {
            monitor.wait(left, sink, false);
        }
    }

    /**
     * 400 ready eventfds, more than io_uring's CQ ring holds: a wait reports a node at most once and returns how many
     * it reported, and the waits report every node (epoll at most 128 per wait). io_uring reaped twice when its CQ
     * ring overflowed and reported 112 nodes twice in every wait.
     */
    @ParameterizedTest
    @EnumSource(TestMonitor.class)
    void aWaitReportsEachNodeOnceWithMoreReadyFdsThanTheRingHolds(TestMonitor which) {
        int n = 400;
        List<EventFd> fds = new ArrayList<>();
        List<FdNode> nodes = new ArrayList<>();
        try (FdMonitor monitor = which.open()) {
            for (int i = 0; i < n; i++) {
                EventFd e = EventFd.create();
                fds.add(e);
                e.signal();
                FdNode node = new FdNode(e.fd(), FdNode.READ_EVENTS, i);
                nodes.add(node);
                monitor.update(null, node);
            }
            Map<FdNode, Integer> everReported = new IdentityHashMap<>();
            for (int w = 0; w < 6; w++) {
                RecordingSink sink = new RecordingSink();
                int r = monitor.wait(0, sink, false);
                Map<FdNode, Integer> counts = new IdentityHashMap<>();
                sink.nodes().forEach(node -> counts.merge(node, 1, Integer::sum));
                assertEquals(counts.size(), sink.reports.size(), which + ", wait " + w + ": a node reported twice");
                assertEquals(sink.reports.size(), r, which + ", wait " + w + ": the wait's count");
                counts.forEach(everReported::put);
            }
            assertEquals(n, everReported.size(), which + ": nodes reported over six waits");
            for (FdNode node : nodes) {
                monitor.update(node, null);
            }
        } finally {
            fds.forEach(EventFd::close);
        }
    }

    /**
     * A second node on a watched fd, without events, is never reported, and removing it leaves the watched node
     * reported. Epoll mapped the fd to the newest node: the unwatched one took the reports, and once it was removed
     * the fd stayed in the epoll set with no node, so every wait returned at once with nothing (100 % CPU).
     */
    @ParameterizedTest
    @EnumSource(TestMonitor.class)
    void aNodeWithoutEventsOnAWatchedFdTakesNothingFromTheWatchedOne(TestMonitor which) {
        try (FdMonitor monitor = which.open(); EventFd e = EventFd.create()) {
            FdNode watched = new FdNode(e.fd(), FdNode.READ_EVENTS, "watched");
            monitor.update(null, watched);
            monitor.wait(0, new RecordingSink(), false); // epoll: upgrades here
            FdNode unwatched = new FdNode(e.fd(), 0, "unwatched");
            monitor.update(null, unwatched);
            e.signal();
            RecordingSink sink = new RecordingSink();
            waitForReport(monitor, sink, 10_000);
            assertEquals(List.of(watched), sink.nodes(), which + " (" + monitor.name() + ")");

            monitor.update(unwatched, null);
            sink.clear();
            int emptyWaits = 0;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (sink.reports.isEmpty() && System.nanoTime() < deadline) {
                if (monitor.wait(TimeUnit.MILLISECONDS.toNanos(200), sink, false) == 0) {
                    emptyWaits++;
                }
            }
            assertEquals(List.of(watched), sink.nodes(), which + " (" + monitor.name() + "), after " + emptyWaits
                    + " empty waits");
            monitor.update(watched, null);
        }
    }

    /**
     * A change keeps the fd: replacing a node with one on another fd is refused, and changes nothing. Epoll watched
     * the new fd and never dropped the old one, and reported the released old node on every wait.
     */
    @ParameterizedTest
    @EnumSource(TestMonitor.class)
    void aNodeCannotBeReplacedByOneOnAnotherFd(TestMonitor which) {
        try (FdMonitor monitor = which.open(); EventFd a = EventFd.create(); EventFd b = EventFd.create()) {
            FdNode old = new FdNode(a.fd(), FdNode.READ_EVENTS, "old");
            monitor.update(null, old);
            monitor.wait(0, new RecordingSink(), false);
            FdNode other = new FdNode(b.fd(), FdNode.READ_EVENTS, "other");
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> monitor.update(old, other));
            assertTrue(e.getMessage().contains("a change keeps the fd"), e.getMessage());
            a.signal();
            RecordingSink sink = new RecordingSink();
            waitForReport(monitor, sink, 10_000);
            assertEquals(List.of(old), sink.nodes(), which + ": the old node is still the registered one");
            monitor.update(old, null);
            monitor.update(null, other); // the refused node was never taken: it may still be added
            monitor.update(other, null);
        }
    }

    /**
     * Removing a node twice changes nothing on every monitor; replacing a removed node is refused on every monitor.
     * Poll and epoll threw on the second removal, and io_uring added the replacement of a removed node.
     */
    @ParameterizedTest
    @EnumSource(TestMonitor.class)
    void aRemovedNodeMayBeRemovedAgainButNotReplaced(TestMonitor which) {
        try (FdMonitor monitor = which.open(); EventFd e = EventFd.create()) {
            FdNode node = new FdNode(e.fd(), FdNode.READ_EVENTS, "node");
            monitor.update(null, node);
            monitor.wait(0, new RecordingSink(), false);
            monitor.update(node, null);
            monitor.update(node, null);
            FdNode replacement = new FdNode(e.fd(), FdNode.READ_EVENTS, "replacement");
            assertThrows(IllegalArgumentException.class, () -> monitor.update(node, replacement));
            e.signal();
            RecordingSink sink = new RecordingSink();
            monitor.wait(TimeUnit.MILLISECONDS.toNanos(50), sink, false);
            assertEquals(List.of(), sink.nodes(), which + ": nothing is registered");
            monitor.update(null, replacement); // not taken by the refused update
            monitor.update(replacement, null);
        }
    }

    /** Closing a shared io_uring monitor releases the client node, which holds no slot. */
    @Test
    void closingASharedIoUringMonitorReleasesTheClientNode() {
        IoUringFdMonitor monitor = IoUringFdMonitor.open();
        SharedRing shared = monitor.share((userData, res) -> { });
        FdNode client = new FdNode(shared.fd(), FdNode.READ_EVENTS, "client");
        monitor.update(null, client);
        monitor.wait(0, new RecordingSink(), false);
        monitor.close();
        assertTrue(client.isReleased(), "the client node of a closed io_uring monitor is not released");
    }
}
