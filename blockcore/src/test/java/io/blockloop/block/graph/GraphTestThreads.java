package io.blockloop.block.graph;

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
 * Started IOThreads for one graph-lock test, and bounded waits: every wait fails the test after {@link #BOUND}
 * instead of hanging. The waits sleep on the calling thread and do not poll the main loop, so they can be used
 * while the main thread holds the graph's write lock.
 */
final class GraphTestThreads implements AutoCloseable {
    static final Duration BOUND = Duration.ofSeconds(10);

    private final IOThread[] threads;

    GraphTestThreads(String prefix, int count) {
        threads = new IOThread[count];
        try {
            for (int i = 0; i < count; i++) {
                threads[i] = new IOThread(prefix + "-" + i).start();
            }
        } catch (RuntimeException e) {
            close();
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

    /** Runs {@code work} in context {@code i} through a one-shot BH, waits for it, and returns its result. */
    <T> T callIn(int i, Supplier<T> work) {
        CountDownLatch done = new CountDownLatch(1);
        AtomicReference<T> result = new AtomicReference<>();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        ctx(i).scheduleOneShot("graph-test-call", () -> {
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
    void startCoroutine(int i, Runnable body) {
        Coroutine.create(body).schedule(ctx(i));
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
    static void waitUntil(BooleanSupplier condition, Supplier<String> what) {
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
    void stopAndJoin(int i) {
        IOThread t = threads[i];
        t.stop();
        try {
            assertTrue(t.join(BOUND), t + " did not end within " + BOUND.toSeconds() + " s");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            fail("interrupted while joining " + t);
        }
    }

    /** Stops and joins every thread still running; fails if one does not end in time or ended with an error. */
    @Override
    public void close() {
        for (IOThread t : threads) {
            if (t != null && t.isRunning()) {
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
}
