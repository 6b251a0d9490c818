package io.blockloop.aio;

import io.blockloop.fdmon.FdMonitorKind;
import io.blockloop.ffm.libc.EventFd;
import io.blockloop.ffm.libc.Poll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The loop asleep in a completion source instead of its monitor ({@link AioContext#setSleeper}): whatever wakes a
 * loop still wakes it (a completion, another thread's BH or fd, a timer), and it sleeps there only while the
 * source has completions to wait for. The source here is a stand-in whose one "request" completes when its
 * eventfd is signalled, and whose sleep is a {@code ppoll} of that eventfd and the monitor's readiness fd, as the
 * native engine's {@code io_getevents} watches both; {@code NativeEngineSleeperTest} runs the real engine.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class LoopSleeperTest {

    /**
     * A source with one request in flight until {@link #completion} is signalled and a poll or sleep reaps it. Its
     * completion fd is another eventfd, {@link #quiet}, which its completions leave alone (as the unsignalled native
     * engine's completions leave its completion fd).
     */
    private static final class OneRequest implements LoopSleeper, AutoCloseable {
        final EventFd completion = EventFd.create();
        final EventFd quiet = EventFd.create();
        final Arena arena = Arena.ofConfined();
        final MemorySegment pollfds = arena.allocate(2 * Poll.POLLFD_SIZE, 8);
        boolean inFlight = true;
        int sleeps;
        int polls;
        int delivered;
        long lastTimeoutNs;
        boolean busyPolled;

        @Override
        public int completionFd() {
            return quiet.fd();
        }

        @Override
        public boolean canSleep() {
            return inFlight;
        }

        @Override
        public int sleep(int readinessFd, long timeoutNs) {
            sleeps++;
            lastTimeoutNs = timeoutNs;
            Poll.set(pollfds, 0, readinessFd, Poll.POLLIN);
            Poll.set(pollfds, 1, completion.fd(), Poll.POLLIN);
            Poll.ppollOrErrno(pollfds, 2, timeoutNs); // EINTR included: the kernel's task-work notification
            return poll();
        }

        @Override
        public int poll() {
            polls++;
            if (completion.drain() == 0) {
                return 0;
            }
            inFlight = false;
            delivered++;
            return 1;
        }

        @Override
        public void setBusyPolled(boolean busyPolled) {
            this.busyPolled = busyPolled;
        }

        @Override
        public void close() {
            completion.close();
            quiet.close();
            arena.close();
        }
    }

    /** Runs {@code action} on another thread once the test thread is about to poll, after a pause. */
    private static Thread after(CountDownLatch polling, Runnable action) {
        return Thread.ofPlatform().start(() -> {
            try {
                polling.await();
                Thread.sleep(20); // most likely asleep by now; if not, the sleep finds the event at once
            } catch (InterruptedException e) {
                return;
            }
            action.run();
        });
    }

    @Test
    void aCompletionEndsTheSleepAndIsProgress() throws Exception {
        try (AioContext ctx = AioContext.create("sleep-completion", FdMonitorKind.IO_URING);
             OneRequest source = new OneRequest()) {
            ctx.setSleeper(source);
            Loops.drain(ctx);
            CountDownLatch polling = new CountDownLatch(1);
            Thread completer = after(polling, source.completion::signal);
            polling.countDown();
            assertTrue(ctx.poll(true), "the completion is progress");
            completer.join();
            assertEquals(1, source.delivered);
            assertEquals(1, source.sleeps, "the loop slept in the source");
            assertTrue(source.lastTimeoutNs < 0, "no timer: no timeout, got " + source.lastTimeoutNs);
        }
    }

    @Test
    void aBottomHalfFromAnotherThreadEndsTheSleep() throws Exception {
        try (AioContext ctx = AioContext.create("sleep-bh", FdMonitorKind.IO_URING);
             OneRequest source = new OneRequest()) {
            ctx.setSleeper(source);
            Loops.drain(ctx);
            AtomicBoolean ran = new AtomicBoolean();
            CountDownLatch polling = new CountDownLatch(1);
            Thread scheduler = after(polling, () -> ctx.scheduleOneShot("from-another-thread", () -> ran.set(true)));
            polling.countDown();
            Loops.pollUntil(ctx, ran::get);
            scheduler.join();
            assertTrue(source.sleeps >= 1, "the loop never slept in the source");
            assertTrue(source.inFlight, "the request has not completed");
        }
    }

    @Test
    void anFdMadeReadyByAnotherThreadEndsTheSleep() throws Exception {
        try (AioContext ctx = AioContext.create("sleep-fd", FdMonitorKind.IO_URING);
             OneRequest source = new OneRequest();
             EventFd other = EventFd.create()) {
            int[] reads = {0};
            ctx.setEventNotifier(other, () -> {
                other.drain();
                reads[0]++;
            }, null, null);
            ctx.setSleeper(source);
            Loops.drain(ctx);
            CountDownLatch polling = new CountDownLatch(1);
            Thread signaller = after(polling, other::signal);
            polling.countDown();
            Loops.pollUntil(ctx, () -> reads[0] == 1);
            signaller.join();
            assertTrue(source.sleeps >= 1, "the loop never slept in the source");
            ctx.removeEventNotifier(other);
        }
    }

    @Test
    void aTimerBoundsTheSleep() {
        try (AioContext ctx = AioContext.create("sleep-timer", FdMonitorKind.IO_URING);
             OneRequest source = new OneRequest()) {
            ctx.setSleeper(source);
            Loops.drain(ctx);
            boolean[] fired = {false};
            Timer timer = ctx.newTimer("t", () -> fired[0] = true);
            timer.modNs(ctx.nowNs() + 20_000_000L);
            Loops.pollUntil(ctx, () -> fired[0]);
            assertTrue(source.sleeps >= 1, "the loop never slept in the source");
            assertTrue(source.lastTimeoutNs > 0 && source.lastTimeoutNs <= 20_000_000L,
                    "the sleep's timeout is the timer's: " + source.lastTimeoutNs);
            timer.delete();
        }
    }

    /** Nothing to wait for in the source: the monitor's wait, but every iteration still polls the source. */
    @Test
    void withNothingInFlightTheLoopSleepsInItsMonitorAndStillPollsTheSource() throws Exception {
        try (AioContext ctx = AioContext.create("sleep-idle", FdMonitorKind.IO_URING);
             OneRequest source = new OneRequest()) {
            source.inFlight = false;
            ctx.setSleeper(source);
            Loops.drain(ctx);
            int polls = source.polls;
            AtomicBoolean ran = new AtomicBoolean();
            CountDownLatch polling = new CountDownLatch(1);
            Thread scheduler = after(polling, () -> ctx.scheduleOneShot("wake", () -> ran.set(true)));
            polling.countDown();
            Loops.pollUntil(ctx, ran::get);
            scheduler.join();
            assertEquals(0, source.sleeps);
            assertTrue(source.polls > polls, "an iteration did not poll the source");
            source.completion.signal(); // a completion found by the poll of a non-blocking iteration
            assertTrue(ctx.poll(false));
            assertEquals(1, source.delivered);
        }
    }

    /**
     * The source's completions count for its fd handler's busy polling, as a dispatch of its fd would: a completion
     * that came at once puts the handler in the polling set with a window, and the source hears it is busy-polled;
     * one that took longer than the longest window (20 ms against QEMU's 32 µs) closes the window again.
     */
    @Test
    void theSourceHearsWhetherTheLoopBusyPollsIt() throws Exception {
        try (AioContext ctx = AioContext.create("sleep-polled", FdMonitorKind.IO_URING);
             OneRequest source = new OneRequest()) {
            // A window of up to 100 ms first, so that the completion found at once counts as found within it even
            // when this first iteration runs interpreted.
            ctx.setPollParams(100_000_000L, 0, 0);
            // The handler of the source's completion fd, which nothing signals, and whose poll check finds nothing:
            // only the source's deliveries can put it in the polling set.
            ctx.setFdHandler(source.quiet.fd(), FdCallbacks.read(() -> { }).withPoll(() -> false, () -> { }));
            ctx.setSleeper(source);
            Loops.drain(ctx);
            assertFalse(source.busyPolled);
            source.completion.signal(); // done before the loop looks: no time blocked
            assertTrue(ctx.poll(true));
            assertEquals(1, source.delivered);
            assertTrue(source.busyPolled, "a completion at once did not open the handler's window");
            ctx.setPollParams(PollParams.IOTHREAD_DEFAULT); // 32 µs: the handler's window is far below it
            source.inFlight = true;
            CountDownLatch polling = new CountDownLatch(1);
            Thread completer = after(polling, source.completion::signal); // 20 ms: far over the longest window
            polling.countDown();
            Loops.pollUntil(ctx, () -> source.delivered == 2);
            completer.join();
            assertFalse(source.busyPolled, "a completion after 20 ms left the handler's window open");
            ctx.removeFdHandler(source.quiet.fd());
        }
    }

    @Test
    void onlyAnIoUringLoopSleepsElsewhereAndInOneSourceAtATime() {
        try (AioContext epoll = AioContext.create("sleep-epoll", FdMonitorKind.EPOLL);
             AioContext ring = AioContext.create("sleep-ring", FdMonitorKind.IO_URING);
             OneRequest first = new OneRequest();
             OneRequest second = new OneRequest()) {
            assertFalse(epoll.canSleepElsewhere());
            IllegalStateException refused = assertThrows(IllegalStateException.class, () -> epoll.setSleeper(first));
            assertTrue(refused.getMessage().contains("only io_uring"), refused.getMessage());
            assertTrue(ring.canSleepElsewhere());
            ring.setSleeper(first);
            ring.setSleeper(first); // the same source again changes nothing
            refused = assertThrows(IllegalStateException.class, () -> ring.setSleeper(second));
            assertTrue(refused.getMessage().contains("already sleeps in"), refused.getMessage());
            ring.setSleeper(null);
            ring.setSleeper(second);
            first.inFlight = false;
            first.completion.signal();
            ring.poll(false);
            assertEquals(0, first.delivered, "a removed source was polled");
            assertTrue(second.polls > 0, "the source set now was not polled");
        }
    }
}
