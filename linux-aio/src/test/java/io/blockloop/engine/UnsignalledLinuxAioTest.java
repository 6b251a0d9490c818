package io.blockloop.engine;

import io.blockloop.fdmon.FdNode;
import io.blockloop.fdmon.IoUringFdMonitor;
import io.blockloop.ffm.errno.Errno;
import io.blockloop.ffm.libc.EventFd;
import io.blockloop.ffm.libc.FileIo;
import io.blockloop.ffm.libc.OpenFlags;
import io.blockloop.ffm.libc.Poll;
import io.blockloop.ffm.memory.AlignedBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The linux-aio engine whose owner sleeps in it ({@link LinuxAioEngine#openUnsignalled}): the kernel's completions
 * leave the completion fd alone and wake {@link LinuxAioEngine#awaitCompletionsOrReadable}, which also ends when
 * the fd it watches becomes readable. The parameterized engine tests run this engine too
 * ({@link EngineUnderTest#LINUX_AIO_UNSIGNALLED}), except those that wait on the completion fd.
 */
class UnsignalledLinuxAioTest {
    private static final int DIRECT = OpenFlags.O_RDWR | OpenFlags.O_DIRECT;
    private static final long MINUTE_NS = 60_000_000_000L;

    @TempDir
    Path dir;

    @Test
    void kernelCompletionsWakeTheSleepAndLeaveTheCompletionFdUnreadable() {
        int fd = TestFiles.createWithPattern(dir.resolve("k.img"), 64 * 1024, DIRECT);
        try (LinuxAioEngine engine = LinuxAioEngine.openUnsignalled(64, 16);
             EventFd watched = EventFd.create();
             AlignedBuffer buf = AlignedBuffer.allocate(8 * 4096, TestFiles.ALIGN);
             Arena arena = Arena.ofConfined()) {
            assertFalse(engine.signalsKernelCompletions());
            Recorder rec = new Recorder(8);
            for (int round = 0; round < 8; round++) {
                assertFalse(engine.canSleep(), "nothing in flight");
                engine.read(fd, buf.segment().asSlice(round * 4096L, 4096), round * 4096L, rec, round);
                long deadline = System.nanoTime() + MINUTE_NS;
                while (rec.completed <= round) {
                    assertTrue(System.nanoTime() < deadline, "read " + round + " never completed; " + engine);
                    assertTrue(engine.canSleep() || rec.completed > round);
                    engine.awaitCompletionsOrReadable(watched.fd(), 1_000_000_000L);
                }
                assertEquals(4096, rec.results[round]);
                assertEquals(0, readable(arena, engine.completionFd()), "the completion fd was signalled");
            }
        } finally {
            FileIo.close(fd);
        }
    }

    /**
     * A sleep inside an open batch submits the batch first, as awaitCompletions does: the read queued under
     * {@code plug()} is delivered by the sleep, not after its timeout with nothing.
     */
    @Test
    void aSleepInsideABatchSubmitsTheBatch() {
        int fd = TestFiles.createWithPattern(dir.resolve("p.img"), 64 * 1024, DIRECT);
        try (LinuxAioEngine engine = LinuxAioEngine.openUnsignalled(64, 16);
             EventFd watched = EventFd.create();
             AlignedBuffer buf = AlignedBuffer.allocate(4096, TestFiles.ALIGN)) {
            Recorder rec = new Recorder(1);
            engine.plug();
            engine.read(fd, buf.segment(), 0, rec, 0);
            assertFalse(engine.canSleep(), "the read is still in the batch");
            long deadline = System.nanoTime() + MINUTE_NS;
            while (rec.completed == 0) {
                assertTrue(System.nanoTime() < deadline, "the batched read never completed; " + engine);
                engine.awaitCompletionsOrReadable(watched.fd(), MINUTE_NS);
            }
            engine.unplug();
            assertEquals(4096, rec.results[0]);
        } finally {
            FileIo.close(fd);
        }
    }

    /**
     * The readiness watch, left armed by a sleep that timed out, does not end a later awaitCompletions: its event is
     * no completion, and the wait goes on. Before, the event ended it with 0 and the request still in the kernel. A
     * fsync of 48 MiB of dirty pages keeps the request out while the watched fd fires (if the fsync is faster, the
     * wait ends with it, and the test shows nothing either way).
     */
    @Test
    void theWatchsEventDoesNotEndAnAwaitCompletions() throws Exception {
        int fd = TestFiles.createWithPattern(dir.resolve("dirty.img"), 0, OpenFlags.O_RDWR);
        try (LinuxAioEngine engine = LinuxAioEngine.openUnsignalled(64, 16);
             EventFd watched = EventFd.create();
             Arena arena = Arena.ofConfined()) {
            assertEquals(0, engine.awaitCompletionsOrReadable(watched.fd(), 1_000_000L)); // arms it, times out
            MemorySegment dirty = arena.allocate(1 << 20, 4096);
            dirty.fill((byte) 7);
            for (int i = 0; i < 48; i++) {
                FileIo.pwrite(fd, dirty, (long) i << 20);
            }
            Recorder rec = new Recorder(1);
            engine.fsync(fd, rec, 0);
            Thread signaller = Thread.ofPlatform().start(() -> {
                try {
                    Thread.sleep(5);
                } catch (InterruptedException stop) {
                    return;
                }
                watched.signal();
            });
            try {
                assertEquals(1, engine.awaitCompletions(MINUTE_NS), "the watch's event ended the wait: " + engine);
            } finally {
                signaller.join();
            }
            assertEquals(0, rec.results[0]);
        } finally {
            FileIo.close(fd);
        }
    }

    /** Signalling switched on applies to the requests submitted after; an engine from open() always signals. */
    @Test
    void theOwnerSwitchesSignallingForTheRequestsItSubmitsNext() {
        int fd = TestFiles.createWithPattern(dir.resolve("s.img"), 64 * 1024, DIRECT);
        try (LinuxAioEngine engine = LinuxAioEngine.openUnsignalled(64, 16);
             LinuxAioEngine plain = LinuxAioEngine.open(64, 16);
             EventFd watched = EventFd.create();
             AlignedBuffer buf = AlignedBuffer.allocate(4096, TestFiles.ALIGN);
             Arena arena = Arena.ofConfined()) {
            Recorder rec = new Recorder(2);
            engine.setSignalling(true);
            assertTrue(engine.signalsKernelCompletions());
            engine.read(fd, buf.segment(), 0, rec, 0);
            long deadline = System.nanoTime() + MINUTE_NS;
            while (readable(arena, engine.completionFd()) == 0) {
                assertTrue(System.nanoTime() < deadline, "a signalled read never made the completion fd readable");
                Thread.onSpinWait();
            }
            engine.processCompletions();
            assertEquals(4096, rec.results[0]);
            assertEquals(0, readable(arena, engine.completionFd()), "processCompletions resets the completion fd");
            engine.setSignalling(false);
            engine.read(fd, buf.segment(), 4096, rec, 1);
            while (rec.completed < 2) {
                assertTrue(System.nanoTime() < deadline, "the unsignalled read never completed");
                engine.awaitCompletionsOrReadable(watched.fd(), 1_000_000_000L);
            }
            assertEquals(0, readable(arena, engine.completionFd()), "an unsignalled read signalled");
            assertTrue(plain.signalsKernelCompletions());
            IllegalStateException refused = assertThrows(IllegalStateException.class, () -> plain.setSignalling(false));
            assertTrue(refused.getMessage().contains("openUnsignalled"), refused.getMessage());
            plain.setSignalling(true); // what it does already
            refused = assertThrows(IllegalStateException.class,
                    () -> plain.awaitCompletionsOrReadable(watched.fd(), 1_000L));
            assertTrue(refused.getMessage().contains("openUnsignalled"), refused.getMessage());
        } finally {
            FileIo.close(fd);
        }
    }

    /** With nothing in flight the sleep waits for the watched fd alone, and is armed again after each report. */
    @Test
    void theWatchedFdEndsTheSleepEachTimeItBecomesReadable() throws Exception {
        try (LinuxAioEngine engine = LinuxAioEngine.openUnsignalled(64, 16);
             EventFd watched = EventFd.create()) {
            for (int round = 0; round < 3; round++) {
                CountDownLatch asleep = new CountDownLatch(1);
                Thread waker = Thread.ofPlatform().start(() -> {
                    try {
                        asleep.await();
                        Thread.sleep(20); // most likely inside io_getevents by now; either way the fd wakes it
                    } catch (InterruptedException e) {
                        return;
                    }
                    watched.signal();
                });
                asleep.countDown();
                long start = System.nanoTime();
                assertEquals(0, engine.awaitCompletionsOrReadable(watched.fd(), MINUTE_NS), "no request completes");
                assertTrue(System.nanoTime() - start < MINUTE_NS / 2, "the watched fd did not end the sleep");
                waker.join(TimeUnit.MINUTES.toMillis(1));
                assertEquals(1, watched.drain());
            }
        }
    }

    /**
     * The watch on an event loop's io_uring monitor, as blockcore's loop sleeps: another thread makes an fd that
     * the monitor watches ready. The monitor's poll completes through task work for the sleeping thread, and the
     * kernel's notification of that work ends {@code io_getevents} (or the posted completion makes the ring fd
     * readable and fires the watch); either way the sleep ends and the monitor then has the report.
     */
    @Test
    void anFdReadyOnTheLoopsIoUringMonitorEndsTheSleep() throws Exception {
        try (IoUringFdMonitor monitor = IoUringFdMonitor.open();
             LinuxAioEngine engine = LinuxAioEngine.openUnsignalled(64, 16);
             EventFd doorbell = EventFd.create()) {
            FdNode node = new FdNode(doorbell.fd(), FdNode.READ_EVENTS, "doorbell");
            monitor.update(null, node);
            monitor.wait(0, (n, revents) -> { }, false); // arms the monitor's poll
            for (int round = 0; round < 3; round++) {
                CountDownLatch asleep = new CountDownLatch(1);
                Thread ringer = Thread.ofPlatform().start(() -> {
                    try {
                        asleep.await();
                        Thread.sleep(20);
                    } catch (InterruptedException e) {
                        return;
                    }
                    doorbell.signal();
                });
                // As the loop does before it sleeps elsewhere: the monitor's queued re-arm goes to the kernel, and
                // the monitor has nothing to report.
                monitor.submitBeforePolling();
                assertFalse(monitor.needWait(false), "round " + round + ": the monitor has work before the sleep");
                asleep.countDown();
                long start = System.nanoTime();
                engine.awaitCompletionsOrReadable(monitor.readinessFd(), MINUTE_NS);
                assertTrue(System.nanoTime() - start < MINUTE_NS / 2, "round " + round + ": the sleep did not end");
                ringer.join(TimeUnit.MINUTES.toMillis(1));
                long deadline = System.nanoTime() + MINUTE_NS;
                while (!monitor.needWait(false)) {
                    assertTrue(System.nanoTime() < deadline, "the monitor never had the report");
                    engine.awaitCompletionsOrReadable(monitor.readinessFd(), 1_000_000L);
                }
                int[] reports = {0};
                monitor.wait(0, (n, revents) -> reports[0]++, false);
                assertEquals(1, reports[0], "round " + round);
                doorbell.drain();
            }
            monitor.update(node, null);
            monitor.wait(0, (n, revents) -> { }, false);
        }
    }

    @Test
    void aWatchedFdReadyBeforeTheSleepEndsItAtOnceAndATimeoutEndsItOtherwise() {
        try (LinuxAioEngine engine = LinuxAioEngine.openUnsignalled(64, 16);
             EventFd watched = EventFd.create()) {
            watched.signal();
            long start = System.nanoTime();
            assertEquals(0, engine.awaitCompletionsOrReadable(watched.fd(), MINUTE_NS));
            assertTrue(System.nanoTime() - start < MINUTE_NS / 2, "a readable fd did not end the sleep");
            watched.drain();
            start = System.nanoTime();
            assertEquals(0, engine.awaitCompletionsOrReadable(watched.fd(), 20_000_000L));
            assertTrue(System.nanoTime() - start >= 20_000_000L, "returned before its timeout");
        }
    }

    @Test
    void theWatchStaysOnItsFdUntilItFires() {
        try (LinuxAioEngine engine = LinuxAioEngine.openUnsignalled(64, 16);
             EventFd first = EventFd.create();
             EventFd second = EventFd.create()) {
            assertEquals(0, engine.awaitCompletionsOrReadable(first.fd(), 1_000_000L)); // armed on first
            IllegalArgumentException refused = assertThrows(IllegalArgumentException.class,
                    () -> engine.awaitCompletionsOrReadable(second.fd(), 1_000_000L));
            assertTrue(refused.getMessage().contains("armed on fd " + first.fd()), refused.getMessage());
            first.signal();
            assertEquals(0, engine.awaitCompletionsOrReadable(first.fd(), MINUTE_NS)); // fires: out of the kernel
            assertEquals(0, engine.awaitCompletionsOrReadable(second.fd(), 1_000_000L)); // so another fd may come
        }
    }

    /** Completions made without the kernel still signal the completion fd: a loop watching it finds them. */
    @Test
    void completionsWithoutTheKernelStillSignalTheCompletionFd() {
        int fd = TestFiles.createWithPattern(dir.resolve("c.img"), 64 * 1024, DIRECT);
        try (LinuxAioEngine engine = LinuxAioEngine.openUnsignalled(64, 16);
             AlignedBuffer buf = AlignedBuffer.allocate(4096, TestFiles.ALIGN);
             Arena arena = Arena.ofConfined()) {
            Recorder rec = new Recorder(2);
            engine.plug();
            long queued = engine.read(fd, buf.segment(), 0, rec, 0);
            assertTrue(engine.cancel(queued));
            engine.unplug();
            assertEquals(Poll.POLLIN, readable(arena, engine.completionFd()) & Poll.POLLIN);
            engine.processCompletions();
            assertEquals(-Errno.ECANCELED, rec.results[0]);
            engine.read(1_000_000, buf.segment(), 0, rec, 1); // no such fd: io_submit refuses it with EBADF
            assertEquals(Poll.POLLIN, readable(arena, engine.completionFd()) & Poll.POLLIN);
            engine.processCompletions();
            assertEquals(-Errno.EBADF, rec.results[1]);
        } finally {
            FileIo.close(fd);
        }
    }

    /**
     * Closing with the watch armed and a read in flight delivers the read; {@link EngineLeakTest} counts what 1 000
     * such closes leave behind.
     */
    @Test
    void closingWithTheWatchArmedDeliversTheReadInFlight() {
        int fd = TestFiles.createWithPattern(dir.resolve("l.img"), 64 * 1024, DIRECT);
        try (EventFd watched = EventFd.create();
             AlignedBuffer buf = AlignedBuffer.allocate(4096, TestFiles.ALIGN)) {
            Recorder rec = new Recorder(1);
            try (LinuxAioEngine engine = LinuxAioEngine.openUnsignalled(64, 16)) {
                assertEquals(0, engine.awaitCompletionsOrReadable(watched.fd(), 1_000L)); // arms the watch
                engine.read(fd, buf.segment(), 0, rec, 0);
            }
            assertEquals(4096, rec.results[0], "the read in flight at close() completes");
        } finally {
            FileIo.close(fd);
        }
    }

    private static int readable(Arena arena, int fd) {
        MemorySegment pollfd = arena.allocate(Poll.POLLFD_SIZE, 8);
        Poll.set(pollfd, 0, fd, Poll.POLLIN);
        return Poll.ppoll(pollfd, 1, 0) == 1 ? Poll.revents(pollfd, 0) : 0;
    }
}
