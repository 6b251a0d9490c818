package io.blockloop.coroutine;

import io.blockloop.aio.AioContext;
import io.blockloop.aio.IOThread;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * A set of started IOThreads for one test, and bounded waits: every wait fails the test after {@link #BOUND}
 * instead of hanging (QEMU's test-aio-multithread.c helpers, {@code ctx_run} in particular).
 */
final class IoThreads implements AutoCloseable {
    static final Duration BOUND = Duration.ofSeconds(10);

    private final IOThread[] threads;

    IoThreads(String prefix, int count) {
        threads = new IOThread[count];
        try {
            for (int i = 0; i < count; i++) {
                threads[i] = new IOThread(prefix + "-" + i).start();
            }
        } catch (RuntimeException e) {
            closeQuietly();
            throw e;
        }
    }

    AioContext ctx(int i) {
        return threads[i].context();
    }

    IOThread thread(int i) {
        return threads[i];
    }

    int size() {
        return threads.length;
    }

    /** Runs {@code work} in context {@code i} through a one-shot BH and waits for it; rethrows what it threw. */
    void runIn(int i, Runnable work) {
        CountDownLatch done = new CountDownLatch(1);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        ctx(i).scheduleOneShot("test-run", () -> {
            try {
                work.run();
            } catch (Throwable t) {
                failure.set(t);
            } finally {
                done.countDown();
            }
        });
        await(done, "work in " + ctx(i).name());
        if (failure.get() != null) {
            throw new AssertionError("work in " + ctx(i).name() + " failed", failure.get());
        }
    }

    static void await(CountDownLatch latch, String what) {
        try {
            if (!latch.await(BOUND.toMillis(), TimeUnit.MILLISECONDS)) {
                fail(what + " did not happen within " + BOUND.toSeconds() + " s (" + latch.getCount() + " left)");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            fail("interrupted while waiting for " + what);
        }
    }

    /** Sleeps in small steps until {@code condition} holds; fails after {@link #BOUND}. */
    static void waitUntil(BooleanSupplier condition, String what) {
        long deadline = System.nanoTime() + BOUND.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) {
                fail(what + " not reached within " + BOUND.toSeconds() + " s");
            }
            try {
                Thread.sleep(1);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                fail("interrupted while waiting for " + what);
            }
        }
    }

    /** Stops and joins every thread; fails if one does not end in time or ended with an error (e.g. leftovers). */
    @Override
    public void close() {
        for (IOThread t : threads) {
            if (t != null) {
                t.stop();
            }
        }
        for (IOThread t : threads) {
            if (t != null) {
                try {
                    assertTrue(t.join(BOUND), t + " did not end within " + BOUND.toSeconds() + " s");
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    fail("interrupted while joining " + t);
                }
            }
        }
    }

    private void closeQuietly() {
        for (IOThread t : threads) {
            if (t != null) {
                try {
                    t.close();
                } catch (Exception ignored) {
                    // reporting the start failure matters more
                }
            }
        }
    }
}
