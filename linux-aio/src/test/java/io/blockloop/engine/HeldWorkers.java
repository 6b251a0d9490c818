package io.blockloop.engine;

import io.blockloop.ffm.errno.Errno;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Pool workers held in {@link BlockingCall}s until a latch opens: while they are held, a hand-off finds no idle
 * worker, so requests wait in the pool's queue (or the owner spins beside them). The calls run on the workers;
 * the latches order their steps with the owner's. The pool's owner thread makes every call here.
 */
final class HeldWorkers {
    /** What a held call returns once released. */
    static final int RESULT = 42;

    private HeldWorkers() {
    }

    /**
     * Submits {@code n} calls (tags 0 to n-1, completing to {@code rec}) that each hold a worker until
     * {@code release} opens, and returns their ids once all {@code n} run at the same time (60 s at most).
     */
    static long[] hold(ThreadPoolEngine engine, int n, CountDownLatch release, Recorder rec)
            throws InterruptedException {
        CountDownLatch started = new CountDownLatch(n);
        long[] ids = new long[n];
        for (int i = 0; i < n; i++) {
            ids[i] = engine.submitCall(holdUntilReleased(started, release), rec, i);
        }
        assertTrue(started.await(60, TimeUnit.SECONDS), n + " held calls never ran at once");
        return ids;
    }

    /**
     * A call that counts {@code started} down, then holds its worker until {@code release} opens (60 s at most);
     * its result is {@link #RESULT} when released, else a negative errno.
     */
    private static BlockingCall holdUntilReleased(CountDownLatch started, CountDownLatch release) {
        return () -> {
            started.countDown();
            try {
                return release.await(60, TimeUnit.SECONDS) ? RESULT : -Errno.ETIMEDOUT;
            } catch (InterruptedException e) {
                return -Errno.EINTR;
            }
        };
    }
}
