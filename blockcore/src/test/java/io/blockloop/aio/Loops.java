package io.blockloop.aio;

import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/** Bounded helpers: every wait in these tests fails the test instead of hanging. */
final class Loops {
    static final long BOUND_NS = TimeUnit.SECONDS.toNanos(10);

    private Loops() {
    }

    /** Polls (blocking) until {@code done}; fails after 10 s. A timer bounds each blocking poll. */
    static void pollUntil(AioContext ctx, BooleanSupplier done) {
        if (!AioWait.waitWhile(ctx, () -> !done.getAsBoolean(), BOUND_NS)) {
            fail("condition not reached within 10 s on " + ctx);
        }
    }

    /** Non-blocking polls until one makes no progress (QEMU tests' {@code while (aio_poll(ctx, false));}). */
    static void drain(AioContext ctx) {
        for (int i = 0; ctx.poll(false); i++) {
            assertTrue(i < 10_000, "the loop keeps making progress");
        }
    }

    /** Polls (blocking) until {@code done}, counting polls; fails after {@code maxPolls}. */
    static int pollCount(AioContext ctx, BooleanSupplier done, int maxPolls) {
        int polls = 0;
        while (!done.getAsBoolean()) {
            assertTrue(polls < maxPolls, "not done after " + maxPolls + " polls");
            ctx.poll(true);
            polls++;
        }
        return polls;
    }

    static void await(java.util.concurrent.CountDownLatch latch, String what) throws InterruptedException {
        if (!latch.await(10, TimeUnit.SECONDS)) {
            fail(what + " did not happen within 10 s (" + latch.getCount() + " left)");
        }
    }
}
