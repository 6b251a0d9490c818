package io.blockloop.fdmon;

import io.blockloop.ffm.errno.Errno;
import io.blockloop.ffm.libc.EventFd;
import io.blockloop.ffm.libc.FileIo;
import io.blockloop.ffm.libc.OpenFlags;
import io.blockloop.ffm.libc.Poll;
import io.blockloop.ffm.liburing.Sqe;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Lending the io_uring monitor's ring to a client ({@link IoUringFdMonitor#share}, {@link SharedRing}): client SQEs
 * go to the kernel with the monitor's wait, their CQEs reach the {@link RingClient} without the tag, the node on
 * the ring fd names them, and the monitor's own fd readiness is unaffected.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class SharedRingTest {
    private static final int FILE_SIZE = 8192;

    @TempDir
    Path dir;

    /** Records what the monitor hands to the client. */
    private static final class Client implements RingClient {
        record Completion(long userData, int res) {
        }

        final List<Completion> completions = new ArrayList<>();

        @Override
        public void completion(long userData, int res) {
            completions.add(new Completion(userData, res));
        }
    }

    private static byte pattern(long offset) {
        return (byte) (offset * 13 + 5);
    }

    /** A file of {@link #FILE_SIZE} pattern bytes, opened read-only (buffered). */
    private int patternFile(Arena arena) {
        String path = dir.resolve("data.img").toString();
        int fd = FileIo.open(path, OpenFlags.O_RDWR | OpenFlags.O_CREAT | OpenFlags.O_CLOEXEC, 0644);
        try {
            MemorySegment content = arena.allocate(FILE_SIZE, 4096);
            for (int i = 0; i < FILE_SIZE; i++) {
                content.set(JAVA_BYTE, i, pattern(i));
            }
            FileIo.pwrite(fd, content, 0);
        } finally {
            FileIo.close(fd);
        }
        return FileIo.open(path, OpenFlags.O_RDONLY | OpenFlags.O_CLOEXEC, 0);
    }

    private static void prepClientRead(SharedRing shared, int fd, MemorySegment buffer, long offset, long userData) {
        MemorySegment sqe = shared.nextSqe();
        assertNotNull(sqe, "SQ ring full");
        Sqe.prepRead(sqe, fd, buffer, offset);
        Sqe.setUserData(sqe, userData | shared.userDataTag());
    }

    private static void prepClientNop(SharedRing shared, long userData) {
        MemorySegment sqe = shared.nextSqe();
        assertNotNull(sqe, "SQ ring full");
        Sqe.prepNop(sqe);
        Sqe.setUserData(sqe, userData | shared.userDataTag());
    }

    /** Waits (bounded, 1 s per wait) until {@code client} has {@code count} completions; returns the waits' sink. */
    private static void waitUntilClientHas(IoUringFdMonitor monitor, Client client, int count, RecordingSink sink) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (client.completions.size() < count) {
            assertTrue(System.nanoTime() < deadline, "client has " + client.completions.size() + " of " + count);
            monitor.wait(TimeUnit.SECONDS.toNanos(1), sink, false);
        }
    }

    /** Spins (bounded) until the kernel has posted a completion into the CQ ring. */
    private static void awaitCompletionPosted(IoUringFdMonitor monitor) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (!monitor.needWait(false)) {
            assertTrue(System.nanoTime() < deadline, "no completion posted");
            Thread.onSpinWait();
        }
    }

    /**
     * Before a busy poll the loop submits queued client SQEs, so the poll can see their completions in the CQ ring
     * without any wait; with nothing queued it enters nothing.
     */
    @Test
    void submitBeforePollingHandsQueuedClientSqesToTheKernelWithoutWaiting() {
        try (IoUringFdMonitor monitor = IoUringFdMonitor.open(); Arena arena = Arena.ofConfined()) {
            int fd = patternFile(arena);
            try {
                Client client = new Client();
                SharedRing shared = monitor.share(client);
                monitor.wait(0, new RecordingSink(), false);
                assertFalse(monitor.submitBeforePolling(), "nothing was queued");

                MemorySegment buffer = arena.allocate(4096, 4096);
                prepClientRead(shared, fd, buffer, 4096, 7);
                assertEquals(1, shared.sqReady());
                assertTrue(monitor.submitBeforePolling(), "the queued SQE was not submitted");
                assertEquals(0, shared.sqReady());
                awaitCompletionPosted(monitor); // visible in the CQ ring with no wait at all
                assertTrue(client.completions.isEmpty(), "delivered before the loop reaped");
                waitUntilClientHas(monitor, client, 1, new RecordingSink());
                assertEquals(List.of(new Client.Completion(7, 4096)), client.completions);
                assertEquals(pattern(4096), buffer.get(JAVA_BYTE, 0));
            } finally {
                FileIo.close(fd);
            }
        }
    }

    @Test
    void aClientReadIsSubmittedByTheWaitAndDeliveredWithoutTheTagAndTheClientNodeIsReported() {
        try (IoUringFdMonitor monitor = IoUringFdMonitor.open(); Arena arena = Arena.ofConfined()) {
            int fd = patternFile(arena);
            try {
                Client client = new Client();
                SharedRing shared = monitor.share(client);
                assertTrue(monitor.isShared());
                assertEquals(SharedRing.CLIENT_TAG, shared.userDataTag());
                FdNode clientNode = new FdNode(shared.fd(), FdNode.READ_EVENTS, "client");
                monitor.update(null, clientNode);
                RecordingSink sink = new RecordingSink();
                monitor.wait(0, sink, false);
                assertTrue(sink.reports.isEmpty(), "a wait without client CQEs reported " + sink.reports);

                MemorySegment buffer = arena.allocate(4096, 4096);
                buffer.fill((byte) 0x5a);
                prepClientRead(shared, fd, buffer, 4096, 42);
                assertEquals(1, shared.sqReady(), "the SQE waits for the monitor's wait");
                assertTrue(monitor.needWait(false), "a queued client SQE needs a wait");
                assertTrue(client.completions.isEmpty());

                waitUntilClientHas(monitor, client, 1, sink);
                assertEquals(List.of(new Client.Completion(42, 4096)), client.completions);
                assertEquals(0, shared.sqReady());
                assertEquals(Poll.POLLIN, sink.reventsOf(clientNode), "client node not reported: " + sink.reports);
                assertEquals(List.of(clientNode), sink.nodes(), "only the client node is ready");
                for (int i = 0; i < 4096; i++) {
                    assertEquals(pattern(4096 + i), buffer.get(JAVA_BYTE, i), "byte " + i);
                }

                sink.clear();
                monitor.wait(0, sink, false);
                assertTrue(sink.reports.isEmpty(), "reported again without a new client CQE: " + sink.reports);
                assertEquals(1, client.completions.size());

                monitor.update(clientNode, null);
                monitor.wait(0, sink, false);
                assertTrue(clientNode.isReleased());
                shared.detach();
                assertFalse(monitor.isShared());
            } finally {
                FileIo.close(fd);
            }
        }
    }

    @Test
    void fdReadinessIsReportedInTheSameWaitAsClientCompletions() {
        try (IoUringFdMonitor monitor = IoUringFdMonitor.open(); EventFd e = EventFd.create()) {
            Client client = new Client();
            SharedRing shared = monitor.share(client);
            FdNode clientNode = new FdNode(shared.fd(), FdNode.READ_EVENTS, "client");
            FdNode eventNode = new FdNode(e.fd(), FdNode.READ_EVENTS, "eventfd");
            monitor.update(null, clientNode);
            monitor.update(null, eventNode);
            RecordingSink sink = new RecordingSink();
            monitor.wait(0, sink, false);
            assertTrue(sink.reports.isEmpty(), sink.reports.toString());

            e.signal();
            awaitCompletionPosted(monitor);
            prepClientNop(shared, 7);
            // One wait: it submits the NOP (which completes inline) and reaps both CQEs.
            monitor.wait(TimeUnit.SECONDS.toNanos(5), sink, false);
            assertEquals(List.of(new Client.Completion(7, 0)), client.completions);
            assertEquals(Poll.POLLIN, sink.reventsOf(eventNode) & Poll.POLLIN, "eventfd not reported: " + sink.reports);
            assertEquals(Poll.POLLIN, sink.reventsOf(clientNode), "client node not reported: " + sink.reports);
            assertEquals(2, sink.reports.size(), sink.reports.toString());

            // Level-triggered: the eventfd stays ready and is reported again; the client node is not.
            sink.clear();
            monitor.wait(TimeUnit.SECONDS.toNanos(5), sink, false);
            assertEquals(List.of(eventNode), sink.nodes());
            e.drain();

            // Only a client completion: the eventfd (drained) is not reported.
            sink.clear();
            prepClientNop(shared, 8);
            monitor.wait(TimeUnit.SECONDS.toNanos(5), sink, false);
            assertEquals(List.of(clientNode), sink.nodes());
            assertEquals(new Client.Completion(8, 0), client.completions.getLast());

            monitor.update(eventNode, null);
            monitor.update(clientNode, null);
            for (int i = 0; i < 100 && !eventNode.isReleased(); i++) {
                monitor.wait(1_000_000, sink, false);
            }
            assertTrue(eventNode.isReleased());
            assertTrue(clientNode.isReleased());
            shared.detach();
        }
    }

    @Test
    void awaitCompletionsDeliversOutsideAWaitAndLeavesFdReadinessForTheNextWait() {
        try (IoUringFdMonitor monitor = IoUringFdMonitor.open(); EventFd e = EventFd.create();
             Arena arena = Arena.ofConfined()) {
            int fd = patternFile(arena);
            try {
                Client client = new Client();
                SharedRing shared = monitor.share(client);
                FdNode clientNode = new FdNode(shared.fd(), FdNode.READ_EVENTS, "client");
                FdNode eventNode = new FdNode(e.fd(), FdNode.READ_EVENTS, "eventfd");
                monitor.update(null, clientNode);
                monitor.update(null, eventNode);
                RecordingSink sink = new RecordingSink();
                monitor.wait(0, sink, false);

                // The eventfd's poll completes into the CQ ring before the client's read is even queued.
                e.signal();
                awaitCompletionPosted(monitor);
                MemorySegment buffer = arena.allocate(4096, 4096);
                prepClientRead(shared, fd, buffer, 0, 3);

                // No limit: it must not return before the client's completion, whatever else it reaps.
                int passedOn = shared.awaitCompletions(-1);
                assertEquals(1, passedOn);
                assertEquals(List.of(new Client.Completion(3, 4096)), client.completions);
                assertEquals(pattern(100), buffer.get(JAVA_BYTE, 100));

                // Nothing of the client left: a timed await passes nothing on.
                assertEquals(0, shared.awaitCompletions(1_000_000));
                assertTrue(monitor.needWait(false), "the eventfd's readiness must make the loop wait");

                // The eventfd's readiness was kept for the loop: the next wait reports it, and not the client node,
                // whose completion awaitCompletions already passed on.
                monitor.wait(TimeUnit.SECONDS.toNanos(5), sink, false);
                assertEquals(List.of(eventNode), sink.nodes());
                sink.clear();
                monitor.wait(TimeUnit.SECONDS.toNanos(5), sink, false);
                assertEquals(List.of(eventNode), sink.nodes(), "level-triggered: still ready");
                e.drain();

                monitor.update(eventNode, null);
                monitor.update(clientNode, null);
                for (int i = 0; i < 100 && !eventNode.isReleased(); i++) {
                    monitor.wait(1_000_000, sink, false);
                }
                assertTrue(eventNode.isReleased());
                shared.detach();
            } finally {
                FileIo.close(fd);
            }
        }
    }

    @Test
    void anEventfdRemovedAfterAwaitCompletionsReapedItsPollIsReleasedAndNotReported() {
        try (IoUringFdMonitor monitor = IoUringFdMonitor.open(); EventFd e = EventFd.create()) {
            Client client = new Client();
            SharedRing shared = monitor.share(client);
            FdNode eventNode = new FdNode(e.fd(), FdNode.READ_EVENTS, "eventfd");
            monitor.update(null, eventNode);
            RecordingSink sink = new RecordingSink();
            monitor.wait(0, sink, false);
            e.signal();
            awaitCompletionPosted(monitor);
            prepClientNop(shared, 1);
            assertEquals(1, shared.awaitCompletions(-1));

            monitor.update(eventNode, null);
            for (int i = 0; i < 100 && !eventNode.isReleased(); i++) {
                monitor.wait(1_000_000, sink, false);
            }
            assertTrue(eventNode.isReleased());
            assertEquals(0, monitor.slotsInUse());
            assertTrue(sink.reports.isEmpty(), "removed node reported: " + sink.reports);
            shared.detach();
        }
    }

    /**
     * A sink that throws on the client node's report does not lose it: the next wait reports the node again. The
     * monitor cleared its count of client completions before the report, so they were never reported.
     */
    @Test
    void theClientNodeIsReportedAgainAfterTheSinkThrew() {
        try (IoUringFdMonitor monitor = IoUringFdMonitor.open()) {
            Client client = new Client();
            SharedRing shared = monitor.share(client);
            FdNode clientNode = new FdNode(shared.fd(), FdNode.READ_EVENTS, "client");
            monitor.update(null, clientNode);
            monitor.wait(0, new RecordingSink(), false);
            prepClientNop(shared, 3);
            IllegalStateException thrown = new IllegalStateException("sink failure");
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (true) {
                assertTrue(System.nanoTime() < deadline, "the client node was never reported");
                try {
                    monitor.wait(TimeUnit.SECONDS.toNanos(1), (n, revents) -> {
                        throw thrown;
                    }, false);
                } catch (IllegalStateException x) {
                    assertTrue(x == thrown, String.valueOf(x));
                    break;
                }
            }
            assertEquals(List.of(new Client.Completion(3, 0)), client.completions);
            RecordingSink sink = new RecordingSink();
            monitor.wait(0, sink, false);
            assertEquals(List.of(clientNode), sink.nodes(), "the client node's report was lost");
            monitor.update(clientNode, null);
            monitor.wait(0, sink, false);
            shared.detach();
        }
    }

    @Test
    void aSecondShareThrowsAndAfterDetachANewShareWorks() {
        try (IoUringFdMonitor monitor = IoUringFdMonitor.open()) {
            Client first = new Client();
            SharedRing shared = monitor.share(first);
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> monitor.share(new Client()));
            assertTrue(e.getMessage().contains("already shared"), e.getMessage());
            assertThrows(NullPointerException.class, () -> monitor.share(null));

            prepClientNop(shared, 11);
            assertEquals(1, shared.awaitCompletions(TimeUnit.SECONDS.toNanos(5)));
            assertEquals(List.of(new Client.Completion(11, 0)), first.completions);
            shared.detach();
            shared.detach(); // idempotent
            assertFalse(monitor.isShared());

            Client second = new Client();
            SharedRing again = monitor.share(second);
            assertTrue(monitor.isShared());
            prepClientNop(again, 12);
            RecordingSink sink = new RecordingSink();
            waitUntilClientHas(monitor, second, 1, sink);
            assertEquals(List.of(new Client.Completion(12, 0)), second.completions);
            assertEquals(1, first.completions.size(), "the detached client got a completion");

            // The old loan stays ended: detaching it again does not end the new one.
            shared.detach();
            assertTrue(monitor.isShared());
            again.detach();
        }
    }

    /**
     * A detached loan refuses every client-facing call: an SQE taken after detach completed to the next client that
     * shared the ring, and with no client the loop's wait threw. The new client's loan is unaffected.
     */
    @Test
    void aDetachedLoanRefusesEveryClientCall() {
        try (IoUringFdMonitor monitor = IoUringFdMonitor.open(); Arena arena = Arena.ofConfined()) {
            Client first = new Client();
            SharedRing shared = monitor.share(first);
            shared.detach();
            Client second = new Client();
            SharedRing again = monitor.share(second);
            MemorySegment iovec = arena.allocate(16, 8);
            List<Runnable> calls = List.of(shared::nextSqe, shared::submitOrErrno, () -> shared.awaitCompletions(0),
                    () -> shared.registerBuffersOrErrno(iovec, 1), shared::unregisterBuffersOrErrno,
                    () -> shared.cancelUnsubmitted(userData -> { }));
            for (Runnable call : calls) {
                IllegalStateException x = assertThrows(IllegalStateException.class, call::run);
                assertTrue(x.getMessage().contains("was detached"), x.getMessage());
            }
            shared.detach(); // still idempotent
            prepClientNop(again, 8);
            RecordingSink sink = new RecordingSink();
            waitUntilClientHas(monitor, second, 1, sink);
            assertEquals(List.of(new Client.Completion(8, 0)), second.completions);
            assertTrue(first.completions.isEmpty(), "the detached client got a completion");
            again.detach();
        }
    }

    @Test
    void shareAfterCloseThrows() {
        IoUringFdMonitor monitor = IoUringFdMonitor.open();
        SharedRing shared = monitor.share(new Client());
        monitor.close();
        assertFalse(monitor.isShared());
        assertThrows(IllegalStateException.class, () -> monitor.share(new Client()));
        assertThrows(IllegalStateException.class, shared::nextSqe);
        assertThrows(IllegalStateException.class, () -> shared.awaitCompletions(0));
        shared.detach(); // harmless after close
    }

    @Test
    void aHandlerOnTheRingFdWithoutSharingIsRefusedByTheWaitThatAppliesItAndOtherChangesSurvive() {
        try (IoUringFdMonitor monitor = IoUringFdMonitor.open(); EventFd e = EventFd.create()) {
            e.signal();
            // The ring fd, learnt from a loan that ends at once.
            SharedRing loan = monitor.share(new Client());
            int ringFd = loan.fd();
            loan.detach();
            FdNode eventNode = new FdNode(e.fd(), FdNode.READ_EVENTS, "eventfd");
            FdNode onRing = new FdNode(ringFd, FdNode.READ_EVENTS, "ring");
            // The pending list is LIFO: the node on the ring fd is applied first.
            monitor.update(null, eventNode);
            monitor.update(null, onRing);
            RecordingSink sink = new RecordingSink();
            IllegalStateException refused = assertThrows(IllegalStateException.class,
                    () -> monitor.wait(0, sink, false));
            assertTrue(refused.getMessage().contains("own ring fd") && refused.getMessage().contains("share"),
                    refused.getMessage());
            assertTrue(sink.reports.isEmpty());

            // The refusal loses no other change: the eventfd is registered and reported.
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (!sink.nodes().contains(eventNode)) {
                assertTrue(System.nanoTime() < deadline, "the eventfd registered with the refused node was lost");
                monitor.wait(1_000_000, sink, false);
            }
            assertFalse(sink.nodes().contains(onRing), "the refused node was reported");
            assertEquals(1, monitor.slotsInUse(), "the refused node holds no slot");

            // The refused node can still be removed, and a node on the ring fd is accepted while shared.
            monitor.update(onRing, null);
            monitor.update(eventNode, null);
            for (int i = 0; i < 100 && !eventNode.isReleased(); i++) {
                monitor.wait(1_000_000, sink, false);
            }
            assertTrue(onRing.isReleased());
            assertTrue(eventNode.isReleased());
            Client client = new Client();
            SharedRing shared = monitor.share(client);
            FdNode clientNode = new FdNode(ringFd, FdNode.READ_EVENTS, "client");
            monitor.update(null, clientNode);
            sink.clear();
            monitor.wait(0, sink, false);
            prepClientNop(shared, 5);
            waitUntilClientHas(monitor, client, 1, sink);
            assertEquals(List.of(clientNode), sink.nodes());
            monitor.update(clientNode, null);
            monitor.wait(0, sink, false);
            shared.detach();
        }
    }

    @Test
    void aClientReadOnABadFdDeliversEbadf() {
        try (IoUringFdMonitor monitor = IoUringFdMonitor.open(); Arena arena = Arena.ofConfined()) {
            Client client = new Client();
            SharedRing shared = monitor.share(client);
            MemorySegment buffer = arena.allocate(4096, 4096);
            prepClientRead(shared, 1_000_000, buffer, 0, 99);
            RecordingSink sink = new RecordingSink();
            waitUntilClientHas(monitor, client, 1, sink);
            assertEquals(List.of(new Client.Completion(99, -Errno.EBADF)), client.completions);
            shared.detach();
        }
    }

    @Test
    void aFullSqRingIsSubmittedToMakeRoomAndNoCompletionIsLost() {
        int n = IoUringFdMonitor.ENTRIES + IoUringFdMonitor.ENTRIES / 2;
        try (IoUringFdMonitor monitor = IoUringFdMonitor.open()) {
            Client client = new Client();
            SharedRing shared = monitor.share(client);
            assertTrue(n < shared.cqEntries(), "the CQ ring holds them all");
            for (int i = 0; i < n; i++) {
                prepClientNop(shared, i);
            }
            assertTrue(shared.sqReady() < n, "the SQ ring was not submitted when full");
            RecordingSink sink = new RecordingSink();
            waitUntilClientHas(monitor, client, n, sink);
            assertEquals(n, client.completions.size());
            for (int i = 0; i < n; i++) {
                assertEquals(new Client.Completion(i, 0), client.completions.get(i));
            }
            shared.detach();
        }
    }

    @Test
    void aDetachedClientsLateCompletionIsAnError() {
        try (IoUringFdMonitor monitor = IoUringFdMonitor.open()) {
            SharedRing shared = monitor.share(new Client());
            prepClientNop(shared, 1);
            shared.detach(); // breaking the protocol: a request is still queued
            RecordingSink sink = new RecordingSink();
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> monitor.wait(TimeUnit.SECONDS.toNanos(5), sink, false));
            assertTrue(e.getMessage().contains("after it detached"), e.getMessage());
        }
    }
}
