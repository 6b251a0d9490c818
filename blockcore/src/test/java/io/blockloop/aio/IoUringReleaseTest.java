package io.blockloop.aio;

import io.blockloop.fdmon.IoUringFdMonitor;
import io.blockloop.ffm.libc.EventFd;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** With io_uring, a removed handler is released only after the last completion of its poll. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class IoUringReleaseTest {

    @Test
    void aHandlerRemovedWithACompletionInFlightIsReleasedByItAndNeverCalled() throws Exception {
        try (AioContext ctx = AioContext.create("uring-release", IoUringFdMonitor.open()); EventFd e = EventFd.create()) {
            IoUringFdMonitor monitor = (IoUringFdMonitor) ctx.monitor();
            int[] reads = {0};
            ctx.setEventNotifier(e, () -> {
                e.drain();
                reads[0]++;
            }, null, null);
            Loops.drain(ctx);
            assertEquals(2, monitor.slotsInUse(), "the context notifier and our handler are armed");

            // Make the poll complete in the kernel, then remove the handler from another thread before the
            // loop has looked at the completion.
            e.signal();
            long deadline = System.nanoTime() + Loops.BOUND_NS;
            while (!monitor.needWait(false)) {
                assertTrue(System.nanoTime() < deadline, "completion never posted");
                Thread.onSpinWait();
            }
            Thread remover = Thread.ofPlatform().start(() -> ctx.removeEventNotifier(e));
            remover.join();
            assertEquals(2, monitor.slotsInUse(), "released before its completion was seen");

            Loops.drain(ctx);
            assertEquals(1, monitor.slotsInUse(), "the completion released the slot");
            assertEquals(0, reads[0], "a removed handler was called");
        }
    }

    @Test
    void anIdleRemovedHandlerIsReleasedWhenItsCancelledPollCompletes() {
        try (AioContext ctx = AioContext.create("uring-cancel", IoUringFdMonitor.open()); EventFd e = EventFd.create()) {
            IoUringFdMonitor monitor = (IoUringFdMonitor) ctx.monitor();
            ctx.setEventNotifier(e, e::drain, null, null);
            Loops.drain(ctx);
            assertEquals(2, monitor.slotsInUse());
            ctx.removeEventNotifier(e);
            assertEquals(2, monitor.slotsInUse(), "the POLL_ADD is still in the kernel");
            Loops.drain(ctx);
            assertEquals(1, monitor.slotsInUse());
        }
    }
}
