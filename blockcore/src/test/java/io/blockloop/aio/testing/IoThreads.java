package io.blockloop.aio.testing;

import io.blockloop.aio.AioContext;
import io.blockloop.aio.IOThread;
import io.blockloop.coroutine.Coroutine;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * A set of started IOThreads for one test, and bounded waits: every wait fails the test after {@link #BOUND}
 * instead of hanging (QEMU's test-aio-multithread.c helpers, {@code ctx_run} in particular). The waits sleep on
 * the calling thread and do not poll the main loop, so they can be used while the main thread holds the graph's
 * write lock.
 *
 * <p>Threads: the test's thread (the one that created it); the work it hands over runs in the IOThreads.
 */
public final class IoThreads implements AutoCloseable {
    public static final Duration BOUND = Duration.ofSeconds(10);

    private final IOThread[] threads;

    public IoThreads(String prefix, int count) {
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

    public AioContext ctx(int i) {
        return threads[i].context();
    }

    public IOThread thread(int i) {
        return threads[i];
    }

    public int size() {
        return threads.length;
    }

    /** Runs {@code work} in context {@code i} through a one-shot BH and waits for it; rethrows what it threw. */
    public void runIn(int i, Runnable work) {
        callIn(i, () -> {
            work.run();
            return null;
        });
    }

    /** Runs {@code work} in context {@code i} through a one-shot BH, waits for it, and returns its result. */
    public <T> T callIn(int i, Supplier<T> work) {
        CountDownLatch done = new CountDownLatch(1);
        AtomicReference<T> result = new AtomicReference<>();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        ctx(i).scheduleOneShot("test-call", () -> {
            try {
                result.set(work.get());
            } catch (Throwable t) {
                failure.set(t);
            } finally {
                done.countDown();
            }
        });
        await(done, "work in " + ctx(i).name());
        if (failure.get() != null) {
            throw new AssertionError("work in " + ctx(i).name() + " failed: " + failure.get(), failure.get());
        }
        return result.get();
    }

    /** Runs {@code body} as a new coroutine scheduled in context {@code i} (it starts at that loop's next iteration). */
    public void startCoroutine(int i, Runnable body) {
        Coroutine.create(body).schedule(ctx(i));
    }

    public static void await(CountDownLatch latch, String what) {
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
    public static void waitUntil(BooleanSupplier condition, String what) {
        waitUntil(condition, () -> what);
    }

    /** {@link #waitUntil(BooleanSupplier, String)} with a description computed when it fails. */
    public static void waitUntil(BooleanSupplier condition, Supplier<String> what) {
        long deadline = System.nanoTime() + BOUND.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) {
                fail(what.get() + " not reached within " + BOUND.toSeconds() + " s");
            }
            try {
                Thread.sleep(1);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                fail("interrupted while waiting for " + what.get());
            }
        }
    }

    /** Stops and joins thread {@code i}; fails if it does not end in time or ended with an error. */
    public void stopAndJoin(int i) {
        threads[i].stop();
        join(threads[i]);
    }

    /**
     * Stops and joins every thread still running; fails if one does not end in time or ended with an error (e.g.
     * leftovers).
     */
    @Override
    public void close() {
        for (IOThread t : threads) {
            if (t != null && t.isRunning()) {
                t.stop();
            }
        }
        for (IOThread t : threads) {
            if (t != null) {
                join(t);
            }
        }
    }

    private static void join(IOThread t) {
        try {
            assertTrue(t.join(BOUND), t + " did not end within " + BOUND.toSeconds() + " s");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            fail("interrupted while joining " + t);
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
