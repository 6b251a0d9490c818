package io.blockloop.aio;

import io.blockloop.ffm.libc.EventFd;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A throwing handler, BH, timer or poll check is reported and the loop keeps running. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class CallbackFailureTest {

    @ParameterizedTest
    @EnumSource(TestMonitor.class)
    void everyKindOfCallbackFailureIsReportedAndTheLoopGoesOn(TestMonitor monitor) {
        List<CallbackFailure> failures = new CopyOnWriteArrayList<>();
        try (AioContext ctx = monitor.newContext("failures"); EventFd e = EventFd.create()) {
            ctx.setCallbackFailureListener(failures::add);
            ctx.scheduleOneShot("bad-bh", () -> {
                throw new IllegalStateException("bh boom");
            });
            boolean[] after = {false};
            ctx.scheduleOneShot("good-bh", () -> after[0] = true);
            Loops.pollUntil(ctx, () -> after[0]);

            Timer timer = ctx.newTimer("bad-timer", () -> {
                throw new UnsupportedOperationException("timer boom");
            });
            timer.modAfterNs(0);
            Loops.pollUntil(ctx, () -> failures.size() == 2);

            ctx.setEventNotifier(e, () -> {
                e.drain();
                throw new RuntimeException("read boom");
            }, null, null);
            e.signal();
            Loops.pollUntil(ctx, () -> failures.size() == 3);

            // A throwing assertion (an Error) is reported too, not rethrown into poll().
            ctx.scheduleOneShot("assert-bh", () -> {
                throw new AssertionError("assert boom");
            });
            Loops.pollUntil(ctx, () -> failures.size() == 4);

            // A throwing busy-poll check counts as "no work". Nothing else happens meanwhile, so a 1 ms tick
            // bounds each blocking poll.
            Timer[] tick = new Timer[1];
            tick[0] = ctx.newTimer("tick", () -> tick[0].modAfterNs(1_000_000));
            tick[0].modAfterNs(1_000_000);
            ctx.setPollParams(1_000_000_000, 0, 0);
            ctx.setEventNotifier(e, e::drain, () -> {
                throw new IllegalArgumentException("poll boom");
            }, () -> {
            });
            e.signal();
            Loops.pollUntil(ctx, () -> failures.stream().anyMatch(f -> f.kind().equals("fd poll")));

            assertEquals("bad-bh", failures.get(0).name());
            assertEquals("bottom half", failures.get(0).kind());
            assertEquals("bh boom", failures.get(0).error().getMessage());
            assertEquals("timer", failures.get(1).kind());
            assertEquals("bad-timer", failures.get(1).name());
            assertEquals("fd read", failures.get(2).kind());
            assertEquals("fd " + e.fd(), failures.get(2).name());
            assertTrue(failures.get(3).error() instanceof AssertionError);

            // Still alive.
            boolean[] last = {false};
            ctx.scheduleOneShot("still-alive", () -> last[0] = true);
            Loops.pollUntil(ctx, () -> last[0]);
            timer.delete();
            tick[0].delete();
            ctx.removeEventNotifier(e);
        }
    }
}
