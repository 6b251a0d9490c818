package io.blockloop.ffm.libc;

import io.blockloop.ffm.call.Availability;
import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link Membarrier} and {@link ThreadId} against the kernel: the test machines (Linux 4.14+, x86-64 or arm64)
 * offer the private expedited barrier, and {@code gettid} names each OS thread once.
 */
class MembarrierAndThreadIdTest {

    @Test
    void membarrierIsRegisteredAndIssuesBarriersFromManyThreadsAtOnce() throws Exception {
        Availability availability = Membarrier.availability();
        assertTrue(availability.available(), () -> "membarrier unavailable: " + availability.reason());
        Membarrier.barrierAllThreads();
        int threads = 4;
        CountDownLatch done = new CountDownLatch(threads);
        Set<Throwable> failures = ConcurrentHashMap.newKeySet();
        for (int t = 0; t < threads; t++) {
            Thread.ofPlatform().start(() -> {
                try {
                    for (int i = 0; i < 200; i++) {
                        Membarrier.barrierAllThreads();
                    }
                } catch (Throwable e) {
                    failures.add(e);
                } finally {
                    done.countDown();
                }
            });
        }
        assertTrue(done.await(60, TimeUnit.SECONDS));
        assertTrue(failures.isEmpty(), failures::toString);
    }

    @Test
    void threadIdsAreStablePerThreadAndDistinctBetweenThreads() throws Exception {
        int mine = ThreadId.current();
        assertEquals(mine, ThreadId.current());
        assertTrue(mine > 0);
        Set<Integer> ids = new HashSet<>();
        ids.add(mine);
        for (int i = 0; i < 4; i++) {
            int[] other = new int[1];
            Thread t = Thread.ofPlatform().start(() -> other[0] = ThreadId.current());
            t.join();
            assertNotEquals(mine, other[0]);
            ids.add(other[0]);
        }
        // Thread ids may be reused after a thread exits, but never while both live; the first one is ours.
        assertTrue(ids.size() >= 2, ids::toString);
    }
}
