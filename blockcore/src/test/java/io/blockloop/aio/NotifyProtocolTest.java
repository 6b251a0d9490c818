package io.blockloop.aio;

import io.blockloop.ffm.libc.Poll;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** notify_me / notified: the eventfd is written only when the loop may be blocked. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class NotifyProtocolTest {

    private static boolean doorbellRang(AioContext ctx) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment pollfd = arena.allocate(Poll.POLLFD_SIZE, 8);
            Poll.set(pollfd, 0, ctx.notifier().eventFd().fd(), Poll.POLLIN);
            return Poll.ppoll(pollfd, 1, 0) == 1;
        }
    }

    @ParameterizedTest
    @EnumSource(TestMonitor.class)
    void notifyingABusyLoopWritesNoEventFd(TestMonitor monitor) throws Exception {
        try (AioContext ctx = monitor.newContext("notify-busy")) {
            Loops.drain(ctx);
            assertFalse(ctx.loopMayBlock());
            // From the home thread and from another thread, while nobody waits: only the flag is set.
            ctx.notifyLoop();
            Thread other = Thread.ofPlatform().start(() -> ctx.scheduleOneShot("from-other", () -> {
            }));
            other.join();
            assertFalse(doorbellRang(ctx), "eventfd written although the loop could not be blocked");
            // The pending notification keeps the next blocking poll from blocking.
            assertTrue(ctx.poll(true), "the BH is progress");
            assertFalse(ctx.poll(false), "the notifier alone is no progress");
        }
    }

    @ParameterizedTest
    @EnumSource(TestMonitor.class)
    void notifyingABlockedLoopWakesIt(TestMonitor monitor) throws Exception {
        try (AioContext ctx = monitor.newContext("notify-blocked")) {
            // Only a 10 s guard timer could end the wait otherwise (it would be progress).
            Timer guard = ctx.newTimer("guard", () -> {
            });
            guard.modAfterNs(Loops.BOUND_NS);
            Loops.drain(ctx);
            CountDownLatch notified = new CountDownLatch(1);
            Thread notifier = Thread.ofPlatform().start(() -> {
                long deadline = System.nanoTime() + Loops.BOUND_NS;
                while (!ctx.loopMayBlock() && System.nanoTime() < deadline) {
                    Thread.onSpinWait();
                }
                ctx.notifyLoop();
                notified.countDown();
            });
            // The notify lands either before the loop re-checks `notified` (it does not block) or during the
            // wait (the eventfd wakes it). Either way the poll returns, and a bare notify is no progress.
            assertFalse(ctx.poll(true), "notification counted as progress");
            assertTrue(guard.isPending(), "the guard timer, not the notify, ended the wait");
            Loops.await(notified, "the notify");
            notifier.join();
            guard.delete();
            assertFalse(ctx.loopMayBlock());
        }
    }
}
