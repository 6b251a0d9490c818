package io.blockloop.engine;

import io.blockloop.ffm.libc.EventFd;
import io.blockloop.ffm.libc.FileIo;
import io.blockloop.ffm.libc.OpenFlags;
import io.blockloop.ffm.memory.AlignedBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The owner's spin in {@code awaitCompletions} ({@link CompletionSpin}): on its own, and in the two kernel engines
 * (the thread pool's is tested in {@link ThreadPoolEngineTest}). Slow requests on io_uring are reads of a blocking
 * eventfd, which complete when the test writes to it.
 */
class CompletionSpinTest {
    private static final long TEN_SECONDS = 10_000_000_000L;
    private static final int DIRECT = OpenFlags.O_RDWR | OpenFlags.O_DIRECT;

    @TempDir
    Path dir;

    // ---- the spin on its own ----------------------------------------------------------------------------------

    @Test
    void aReadyCompletionIsCaughtAndLeavesTheWindowAsItIs() {
        CompletionSpin spin = new CompletionSpin(new SpinWindow(TEN_SECONDS, 8_000), () -> true);
        assertTrue(spin.spin(-1));
        spin.reaped(1);
        assertEquals(1, spin.catches());
        assertEquals(8_000, spin.window());
    }

    @Test
    void aMissWithAClosedWindowOpensItWhenTheCompletionComesWithinTheMaximum() {
        CompletionSpin spin = new CompletionSpin(new SpinWindow(TEN_SECONDS, 0), () -> false);
        assertFalse(spin.spin(-1), "a closed window does not spin");
        spin.reaped(0);
        assertEquals(0, spin.window(), "nothing arrived yet");
        spin.reaped(1);
        assertEquals(SpinWindow.GROW_START, spin.window());
        assertEquals(0, spin.catches());
    }

    @Test
    void aCompletionSlowerThanTheMaximumClosesTheWindow() {
        CompletionSpin spin = new CompletionSpin(new SpinWindow(1_000, 1_000), () -> false);
        assertFalse(spin.spin(-1));
        LockSupport.parkNanos(2_000_000); // the completion takes 2 ms, 2000 times the maximum
        spin.reaped(1);
        assertEquals(0, spin.window());
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS) // the window is 10 s: a spin past the timeout would show there
    void theSpinEndsAtTheTimeout() {
        CompletionSpin spin = new CompletionSpin(new SpinWindow(TEN_SECONDS, TEN_SECONDS), () -> false);
        for (int i = 0; i < 100; i++) {
            assertFalse(spin.spin(1_000_000));
        }
    }

    // ---- in the kernel engines ---------------------------------------------------------------------------------

    /**
     * With a window it cannot outgrow, the owner of each kernel engine catches every completion of its only read
     * spinning: on linux-aio's shared ring, on io_uring's CQ ring, and on a deferred io_uring ring through
     * {@code IORING_SQ_TASKRUN}.
     */
    @ParameterizedTest
    @ValueSource(strings = {"linux-aio", "io_uring", "io_uring-deferred"})
    void theOwnerCatchesTheCompletionOfItsOnlyRequestSpinning(String kind) {
        int fd = TestFiles.createWithPattern(dir.resolve("c.img"), 1 << 20, DIRECT);
        SpinWindow unending = new SpinWindow(TEN_SECONDS, TEN_SECONDS);
        try (IoEngine engine = switch (kind) {
            case "linux-aio" -> LinuxAioEngine.open(64, 16, unending);
            case "io_uring" -> IoUringEngine.open(32, unending);
            default -> IoUringEngine.openDeferred(32, unending);
        }) {
            readOneAtATime(engine, fd, 50);
            CompletionSpin spin = engine instanceof LinuxAioEngine aio ? aio.ownerSpin()
                    : ((IoUringEngine) engine).ownerSpin();
            assertTrue(spin.catches() > 0, "the owner never caught a completion spinning");
            assertEquals(0, spin.sleeps(), "the owner slept although its spin could not run out");
        } finally {
            FileIo.close(fd);
        }
    }

    /** A maximum of zero turns the spin off: every wait sleeps in the kernel. */
    @Test
    void aZeroMaximumNeverSpins() {
        int fd = TestFiles.createWithPattern(dir.resolve("z.img"), 1 << 20, DIRECT);
        try (LinuxAioEngine aio = LinuxAioEngine.open(64, 16, new SpinWindow(0, 0));
             IoUringEngine uring = IoUringEngine.open(32, new SpinWindow(0, 0))) {
            readOneAtATime(aio, fd, 20);
            readOneAtATime(uring, fd, 20);
            assertEquals(0, aio.ownerSpin().catches());
            assertEquals(0, uring.ownerSpin().catches());
        } finally {
            FileIo.close(fd);
        }
    }

    /**
     * io_uring: beside a request that stays in flight (a read of an eventfd nobody writes), the owner does not spin
     * for the others; they are all waited for in the kernel.
     */
    @Test
    void ioUringDoesNotSpinBesideAnotherRequest() {
        int fd = TestFiles.createWithPattern(dir.resolve("b.img"), 1 << 20, DIRECT);
        try (EventFd blocking = EventFd.create(0, EventFd.EFD_CLOEXEC);
             AlignedBuffer counter = AlignedBuffer.allocate(8, 8);
             IoUringEngine engine = IoUringEngine.open(32, new SpinWindow(TEN_SECONDS, TEN_SECONDS))) {
            Recorder held = new Recorder(1);
            engine.read(blocking.fd(), counter.segment(), 0, held, 0);
            readOneAtATime(engine, fd, 20);
            assertEquals(0, engine.ownerSpin().catches(), "the owner spun beside a request in flight");
            blocking.signal();
            held.awaitCompleted(engine, 1);
            assertEquals(8, held.results[0]);
        } finally {
            FileIo.close(fd);
        }
    }

    /**
     * io_uring, with the default window (from 0, at most 50 µs): requests slower than the maximum (eventfd reads
     * answered after 5 ms) never open it, so the owner sleeps for each and burns no CPU spinning.
     */
    @Test
    void ioUringsWindowStaysClosedForRequestsSlowerThanItsMaximum() throws Exception {
        try (EventFd slow = EventFd.create(0, EventFd.EFD_CLOEXEC);
             AlignedBuffer counter = AlignedBuffer.allocate(8, 8);
             IoUringEngine engine = IoUringEngine.open(32)) {
            Recorder rec = new Recorder(20);
            for (int i = 0; i < 20; i++) {
                engine.read(slow.fd(), counter.segment(), 0, rec, i);
                Thread writer = Thread.ofPlatform().start(() -> {
                    LockSupport.parkNanos(5_000_000);
                    slow.signal();
                });
                rec.awaitCompleted(engine, i + 1);
                writer.join();
                assertEquals(8, rec.results[i]);
            }
            assertEquals(0, engine.ownerSpin().catches());
            assertEquals(0, engine.ownerSpin().window(), "the window opened for requests slower than its maximum");
        }
    }

    /**
     * io_uring: a timed wait whose spin uses up the timeout returns without also sleeping for it. The window (10 s)
     * is far longer than the timeout (1 ms), and the request (an eventfd read) completes only when written.
     */
    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void ioUringsTimedWaitEndsWithItsSpin() {
        try (EventFd never = EventFd.create(0, EventFd.EFD_CLOEXEC);
             AlignedBuffer counter = AlignedBuffer.allocate(8, 8);
             IoUringEngine engine = IoUringEngine.open(32, new SpinWindow(TEN_SECONDS, TEN_SECONDS))) {
            Recorder rec = new Recorder(1);
            engine.read(never.fd(), counter.segment(), 0, rec, 0);
            for (int i = 0; i < 20; i++) {
                assertEquals(0, engine.awaitCompletions(1_000_000));
            }
            assertEquals(0, engine.ownerSpin().sleeps(), "a wait slept after its spin had used up the timeout");
            never.signal();
            rec.awaitCompleted(engine, 1);
            assertEquals(8, rec.results[0]);
        }
    }

    /** Reads 4 KiB blocks one at a time, each awaited before the next is submitted, and checks their bytes. */
    private static void readOneAtATime(IoEngine engine, int fd, int n) {
        try (AlignedBuffer buf = AlignedBuffer.allocate(4096, 4096)) {
            Recorder rec = new Recorder(n);
            for (int i = 0; i < n; i++) {
                long offset = (i * 37L % 256) * 4096;
                engine.read(fd, buf.segment(), offset, rec, i);
                rec.awaitCompleted(engine, i + 1);
                assertEquals(4096, rec.results[i]);
                assertNull(TestFiles.checkPatternThenZeros(buf.segment(), offset, 1 << 20));
            }
        }
    }
}
