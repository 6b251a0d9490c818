package io.blockloop.coroutine;

import org.junit.jupiter.api.Test;

import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Set;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The per-thread pool: terminated coroutines are handed out again, so steady-state use allocates none. */
class CoroutinePoolingTest {
    private static final Consumer<int[]> INCREMENT = counter -> counter[0]++;

    @Test
    void creatingAndTerminatingOneHundredThousandCoroutinesReusesTheSameObject() {
        int[] counter = {0};
        Coroutine first = Coroutine.create(INCREMENT, counter);
        first.enter();
        Set<Coroutine> distinct = Collections.newSetFromMap(new IdentityHashMap<>());
        for (int i = 0; i < 100_000; i++) {
            Coroutine co = Coroutine.create(INCREMENT, counter);
            distinct.add(co);
            co.enter();
        }
        assertEquals(100_001, counter[0]);
        assertEquals(Set.of(first), distinct, "every create() after the first handed back the pooled object");
    }

    @Test
    void coroutinesThatYieldAreHandedOutAgainOnlyAfterTheyTerminate() {
        Coroutine[] batch = new Coroutine[32];
        Set<Coroutine> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        for (int round = 0; round < 1_000; round++) {
            for (int i = 0; i < batch.length; i++) {
                batch[i] = Coroutine.create(Coroutine::yield);
                batch[i].enter(); // yields: still alive, so the next create() must not hand it out
            }
            Set<Coroutine> live = Collections.newSetFromMap(new IdentityHashMap<>());
            Collections.addAll(live, batch);
            assertEquals(batch.length, live.size(), "live coroutines are distinct objects");
            for (Coroutine co : batch) {
                co.enter(); // terminates, back to the pool
                seen.add(co);
            }
        }
        assertTrue(seen.size() <= batch.length + CoroutinePool.ofCurrentThread().size(),
                "the pool recycled objects instead of allocating new ones: " + seen.size() + " distinct");
        assertTrue(seen.size() <= 64, seen.size() + " distinct coroutines for 32 live at a time");
    }

    @Test
    void thePoolKeepsAtMostItsCapacity() {
        Coroutine[] many = new Coroutine[CoroutinePool.DEFAULT_CAPACITY + 50];
        for (int i = 0; i < many.length; i++) {
            many[i] = Coroutine.create(Coroutine::yield);
            many[i].enter();
        }
        for (Coroutine co : many) {
            co.enter();
        }
        assertEquals(CoroutinePool.DEFAULT_CAPACITY, CoroutinePool.ofCurrentThread().size());
        Coroutine reused = Coroutine.create(() -> { });
        assertSame(many[CoroutinePool.DEFAULT_CAPACITY - 1], reused, "LIFO: the last one pooled comes back first");
        reused.enter();
    }
}
