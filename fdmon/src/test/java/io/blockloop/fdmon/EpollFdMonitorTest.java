package io.blockloop.fdmon;

import io.blockloop.ffm.libc.EventFd;
import io.blockloop.ffm.libc.FileIo;
import io.blockloop.ffm.libc.OpenFlags;
import io.blockloop.ffm.testing.OpenFds;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The poll → epoll upgrade at 64 fds, its "not while nested" rule, and the permanent fallback. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class EpollFdMonitorTest {
    private final List<EventFd> fds = new ArrayList<>();
    private final List<FdNode> nodes = new ArrayList<>();

    @AfterEach
    void closeFds() {
        fds.forEach(EventFd::close);
    }

    private void register(FdMonitor monitor, int count) {
        for (int i = 0; i < count; i++) {
            EventFd e = EventFd.create();
            fds.add(e);
            FdNode node = new FdNode(e.fd(), FdNode.READ_EVENTS, fds.size() - 1);
            nodes.add(node);
            monitor.update(null, node);
        }
    }

    private static void assertReported(FdMonitor monitor, FdNode expected) {
        RecordingSink sink = new RecordingSink();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (!sink.nodes().contains(expected)) {
            assertTrue(System.nanoTime() < deadline, "fd " + expected.fd() + " never reported");
            monitor.wait(10_000_000, sink, false);
        }
    }

    @Test
    void staysOnPollBelowSixtyFourFdsAndUpgradesAtSixtyFour() {
        try (EpollFdMonitor monitor = EpollFdMonitor.open()) {
            register(monitor, EpollFdMonitor.UPGRADE_THRESHOLD - 1);
            monitor.wait(0, new RecordingSink(), false);
            assertEquals(EpollFdMonitor.Mode.POLL, monitor.mode());
            assertEquals("poll", monitor.name());

            register(monitor, 1);
            assertEquals(EpollFdMonitor.Mode.POLL, monitor.mode(), "the switch happens in wait, not in update");
            monitor.wait(0, new RecordingSink(), false);
            assertEquals(EpollFdMonitor.Mode.EPOLL, monitor.mode());
            assertEquals("epoll", monitor.name());

            // Events still arrive, for fds registered before and after the switch.
            fds.get(3).signal();
            assertReported(monitor, nodes.get(3));
            register(monitor, 1);
            fds.getLast().signal();
            assertReported(monitor, nodes.getLast());

            // No downgrade when the count drops.
            for (FdNode node : nodes) {
                monitor.update(node, null);
            }
            monitor.wait(0, new RecordingSink(), false);
            assertEquals(EpollFdMonitor.Mode.EPOLL, monitor.mode());
        }
    }

    @Test
    void aNestedWaitNeverUpgrades() {
        try (EpollFdMonitor monitor = EpollFdMonitor.open()) {
            register(monitor, 100);
            monitor.wait(0, new RecordingSink(), true);
            assertEquals(EpollFdMonitor.Mode.POLL, monitor.mode());
            fds.get(42).signal();
            RecordingSink sink = new RecordingSink();
            monitor.wait(-1, sink, true);
            assertEquals(List.of(nodes.get(42)), sink.nodes());
            assertEquals(EpollFdMonitor.Mode.POLL, monitor.mode());
            monitor.wait(0, new RecordingSink(), false);
            assertEquals(EpollFdMonitor.Mode.EPOLL, monitor.mode());
        }
    }

    @Test
    void anEpollCtlFailureAtTheUpgradeFallsBackToPollForGood(@TempDir Path dir) throws Exception {
        Path file = Files.writeString(dir.resolve("regular"), "x");
        int fileFd = FileIo.open(file.toString(), OpenFlags.O_RDONLY | OpenFlags.O_CLOEXEC, 0);
        int before = OpenFds.count();
        try (EpollFdMonitor monitor = EpollFdMonitor.open()) {
            // poll(2) accepts a regular file (always ready); epoll_ctl refuses it with EPERM.
            FdNode regular = new FdNode(fileFd, FdNode.READ_EVENTS, "file");
            monitor.update(null, regular);
            register(monitor, EpollFdMonitor.UPGRADE_THRESHOLD);
            assertReported(monitor, regular);
            assertEquals(EpollFdMonitor.Mode.POLL_FOR_GOOD, monitor.mode());
            assertNotNull(monitor.fallbackReason());
            assertTrue(monitor.fallbackReason().contains("EPERM"), monitor.fallbackReason());
            assertEquals("poll", monitor.name());
            // The epoll fd is gone (only the 64 eventfds are new), and events still arrive through poll.
            assertEquals(before + EpollFdMonitor.UPGRADE_THRESHOLD, OpenFds.count());
            fds.get(10).signal();
            assertReported(monitor, nodes.get(10));
            monitor.update(regular, null);
            monitor.wait(0, new RecordingSink(), false);
            assertEquals(EpollFdMonitor.Mode.POLL_FOR_GOOD, monitor.mode());
        } finally {
            FileIo.close(fileFd);
        }
    }

    @Test
    void anEpollCtlFailureAfterTheUpgradeFallsBackToPollForGood(@TempDir Path dir) throws Exception {
        Path file = Files.writeString(dir.resolve("regular"), "x");
        int fileFd = FileIo.open(file.toString(), OpenFlags.O_RDONLY | OpenFlags.O_CLOEXEC, 0);
        try (EpollFdMonitor monitor = EpollFdMonitor.open()) {
            register(monitor, EpollFdMonitor.UPGRADE_THRESHOLD);
            monitor.wait(0, new RecordingSink(), false);
            assertEquals(EpollFdMonitor.Mode.EPOLL, monitor.mode());
            assertNull(monitor.fallbackReason());

            FdNode regular = new FdNode(fileFd, FdNode.READ_EVENTS, "file");
            monitor.update(null, regular);
            assertEquals(EpollFdMonitor.Mode.POLL_FOR_GOOD, monitor.mode());
            assertReported(monitor, regular);
            fds.get(7).signal();
            assertReported(monitor, nodes.get(7));
            monitor.update(regular, null);
        } finally {
            FileIo.close(fileFd);
        }
    }

    @Test
    void upgradedWaitsKeepSubMillisecondTimeouts() {
        try (EpollFdMonitor monitor = EpollFdMonitor.open(1)) {
            register(monitor, 1);
            RecordingSink sink = new RecordingSink();
            monitor.wait(0, sink, false);
            assertEquals(EpollFdMonitor.Mode.EPOLL, monitor.mode());
            // A 50 µs wait with nothing ready returns nothing (epoll_wait would have rounded it to 0 or 1 ms).
            for (int i = 0; i < 100; i++) {
                assertEquals(0, monitor.wait(50_000, sink, false));
            }
        }
    }
}
