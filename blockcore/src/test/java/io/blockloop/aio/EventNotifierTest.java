package io.blockloop.aio;

import io.blockloop.ffm.libc.EventFd;
import io.blockloop.ffm.libc.OpenFlags;
import io.blockloop.ffm.libc.Pipe;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** QEMU test-aio.c's /aio/event/* scenarios, and fd handler changes from anywhere, on every monitor. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class EventNotifierTest {

    /** Counts callbacks; each clears the notifier, and re-sets it while {@code active} stays above 0 if asked. */
    private static final class Counter implements AutoCloseable {
        final EventFd e = EventFd.create();
        final boolean autoSet;
        int n;
        int active;

        Counter(int active, boolean autoSet) {
            this.active = active;
            this.autoSet = autoSet;
        }

        void onRead() {
            e.drain();
            n++;
            active--;
            if (autoSet && active > 0) {
                e.signal();
            }
        }

        @Override
        public void close() {
            e.close();
        }
    }

    @ParameterizedTest
    @EnumSource(TestMonitor.class)
    void addingAndRemovingANotifierWithoutEventsCallsNothing(TestMonitor monitor) {
        try (AioContext ctx = monitor.newContext("event-add-remove"); Counter data = new Counter(0, false)) {
            ctx.setEventNotifier(data.e, data::onRead, null, null);
            assertFalse(ctx.poll(false));
            assertEquals(0, data.n);
            ctx.removeEventNotifier(data.e);
            assertFalse(ctx.poll(false));
            assertEquals(0, data.n);
        }
    }

    @ParameterizedTest
    @EnumSource(TestMonitor.class)
    void aSignalledNotifierRunsItsCallbackOnce(TestMonitor monitor) {
        try (AioContext ctx = monitor.newContext("event-wait"); Counter data = new Counter(1, false)) {
            ctx.setEventNotifier(data.e, data::onRead, null, null);
            Loops.drain(ctx);
            data.e.signal();
            Loops.pollCount(ctx, () -> data.n == 1, 10);
            assertEquals(1, data.n);
            assertEquals(0, data.active);
            assertFalse(ctx.poll(false));
            assertEquals(1, data.n);
            ctx.removeEventNotifier(data.e);
            assertFalse(ctx.poll(false));
        }
    }

    @ParameterizedTest
    @EnumSource(TestMonitor.class)
    void aBlockingPollWithASignalledNotifierDoesNotBlockAndEachSignalIsOneCallback(TestMonitor monitor) {
        try (AioContext ctx = monitor.newContext("event-no-flush-cb"); Counter data = new Counter(10, true);
             Counter dummy = new Counter(1, false)) {
            ctx.setEventNotifier(data.e, data::onRead, null, null);
            Loops.drain(ctx);
            data.e.signal();
            // Each blocking poll finds the (re-)set notifier ready: it returns at once, one callback each.
            assertTrue(ctx.poll(true));
            assertEquals(1, data.n);
            assertTrue(ctx.poll(true));
            assertEquals(2, data.n);

            ctx.setEventNotifier(dummy.e, dummy::onRead, null, null);
            dummy.e.signal();
            Loops.pollCount(ctx, () -> dummy.n == 1, 10);
            assertEquals(1, dummy.n);
            assertEquals(0, dummy.active);
            assertTrue(data.n >= 3 && data.n <= 10, "data ran " + data.n);
            ctx.removeEventNotifier(dummy.e);
            Loops.pollCount(ctx, () -> data.active == 0, 20);
            assertEquals(10, data.n);
            assertFalse(ctx.poll(false));
            ctx.removeEventNotifier(data.e);
        }
    }

    @ParameterizedTest
    @EnumSource(TestMonitor.class)
    void anAutoSetNotifierFiresUntilInactive(TestMonitor monitor) {
        try (AioContext ctx = monitor.newContext("event-flush"); Counter data = new Counter(10, true)) {
            ctx.setEventNotifier(data.e, data::onRead, null, null);
            Loops.drain(ctx);
            data.e.signal();
            Loops.pollCount(ctx, () -> data.active == 0, 50);
            assertEquals(10, data.n);
            assertFalse(ctx.poll(false));
            ctx.removeEventNotifier(data.e);
        }
    }

    @ParameterizedTest
    @EnumSource(TestMonitor.class)
    void writeHandlersRunWhenTheFdIsWritable(TestMonitor monitor) {
        try (AioContext ctx = monitor.newContext("fd-write");
             Pipe pipe = Pipe.create(OpenFlags.O_NONBLOCK | OpenFlags.O_CLOEXEC)) {
            AtomicInteger writes = new AtomicInteger();
            ctx.setFdHandler(pipe.writeFd(), null, () -> {
                if (writes.incrementAndGet() == 3) {
                    ctx.removeFdHandler(pipe.writeFd());
                }
            }, null, null);
            Loops.pollUntil(ctx, () -> writes.get() == 3);
            assertFalse(ctx.hasFdHandler(pipe.writeFd()));
            Loops.drain(ctx);
            assertEquals(3, writes.get());
        }
    }

    @ParameterizedTest
    @EnumSource(TestMonitor.class)
    void aCallbackMayRemoveItselfAndAddAnotherHandler(TestMonitor monitor) {
        try (AioContext ctx = monitor.newContext("fd-in-callback"); Counter first = new Counter(1, false);
             Counter second = new Counter(1, false)) {
            ctx.setEventNotifier(first.e, () -> {
                first.onRead();
                ctx.removeEventNotifier(first.e);
                ctx.setEventNotifier(second.e, second::onRead, null, null);
                second.e.signal();
                first.e.signal(); // no longer watched
            }, null, null);
            first.e.signal();
            Loops.pollUntil(ctx, () -> second.n == 1);
            Loops.drain(ctx);
            assertEquals(1, first.n);
            assertEquals(1, second.n);
            ctx.removeEventNotifier(second.e);
        }
    }

    @ParameterizedTest
    @EnumSource(TestMonitor.class)
    void aHandlerReplacedInsideAnotherCallbackOfTheSamePassIsNotCalled(TestMonitor monitor) {
        try (AioContext ctx = monitor.newContext("fd-replaced"); EventFd a = EventFd.create();
             EventFd b = EventFd.create()) {
            List<String> log = new ArrayList<>();
            // Whichever of a and b runs first removes the other; the other must not run in this pass.
            ctx.setEventNotifier(a, () -> {
                a.drain();
                log.add("a");
                ctx.removeEventNotifier(b);
            }, null, null);
            ctx.setEventNotifier(b, () -> {
                b.drain();
                log.add("b");
                ctx.removeEventNotifier(a);
            }, null, null);
            Loops.drain(ctx);
            a.signal();
            b.signal();
            Loops.pollUntil(ctx, () -> !log.isEmpty());
            Loops.drain(ctx);
            assertEquals(1, log.size(), "both ran: " + log);
            ctx.removeEventNotifier(a);
            ctx.removeEventNotifier(b);
        }
    }

    @ParameterizedTest
    @EnumSource(TestMonitor.class)
    void aHandlerAddedFromAnotherThreadWakesABlockedLoop(TestMonitor monitor) throws Exception {
        try (AioContext ctx = monitor.newContext("fd-cross-thread"); Counter data = new Counter(1, false)) {
            Loops.drain(ctx);
            data.e.signal();
            CountDownLatch added = new CountDownLatch(1);
            Thread adder = Thread.ofPlatform().start(() -> {
                // Wait until the loop is (about to be) blocked, then register the already-signalled fd.
                long deadline = System.nanoTime() + Loops.BOUND_NS;
                while (!ctx.loopMayBlock() && System.nanoTime() < deadline) {
                    Thread.onSpinWait();
                }
                ctx.setEventNotifier(data.e, data::onRead, null, null);
                added.countDown();
            });
            Loops.pollUntil(ctx, () -> data.n == 1);
            Loops.await(added, "registration");
            adder.join();
            // And removed from another thread: the fd is no longer watched.
            Thread remover = Thread.ofPlatform().start(() -> ctx.removeEventNotifier(data.e));
            remover.join();
            data.e.signal();
            Loops.drain(ctx);
            assertEquals(1, data.n);
        }
    }
}
