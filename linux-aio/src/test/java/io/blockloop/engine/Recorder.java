package io.blockloop.engine;

import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * A completion handler for tests: the tag is an index into arrays of results and call counts, so a test sees
 * every delivery, including duplicates.
 */
final class Recorder implements CompletionHandler {
    static final long NONE = Long.MIN_VALUE;

    final long[] results;
    final int[] calls;
    final Thread[] threads;
    int completed;

    Recorder(int capacity) {
        results = new long[capacity];
        calls = new int[capacity];
        threads = new Thread[capacity];
        Arrays.fill(results, NONE);
    }

    @Override
    public void complete(long tag, long result) {
        int i = (int) tag;
        results[i] = result;
        calls[i]++;
        threads[i] = Thread.currentThread();
        completed++;
    }

    /** Drives {@code engine} until {@code count} completions arrived; fails after 60 s instead of hanging. */
    void awaitCompleted(IoEngine engine, int count) {
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (completed < count) {
            if (System.nanoTime() > deadline) {
                fail(engine.name() + ": only " + completed + " of " + count + " completions after 60 s; " + engine);
            }
            engine.awaitCompletions(100_000_000L);
        }
    }

    /** Drives {@code engine} until nothing is outstanding; fails after 60 s. */
    static void drain(IoEngine engine) {
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (engine.outstanding() > 0) {
            if (System.nanoTime() > deadline) {
                fail(engine.name() + ": " + engine.outstanding() + " requests still outstanding after 60 s; " + engine);
            }
            engine.awaitCompletions(100_000_000L);
        }
    }
}
