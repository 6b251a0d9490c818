package io.blockloop.coroutine;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** QEMU's co_queue_wakeup rule: a wake-up from inside a coroutine runs when the waker yields, never nested. */
class CoroutineWakeQueueTest {

    @Test
    void aCoroutineWokenFromACoroutineRunsWhenTheWakerYields() {
        List<String> log = new ArrayList<>();
        Coroutine sleeper = Coroutine.create(() -> {
            log.add("sleeper waits");
            Coroutine.yield();
            log.add("sleeper woken");
        });
        sleeper.enter();
        Coroutine waker = Coroutine.create(() -> {
            sleeper.wake();
            log.add("waker still running after wake");
            Coroutine.yield();
            log.add("waker resumed");
        });
        waker.enter();
        log.add("thread");
        waker.enter();
        assertEquals(List.of("sleeper waits", "waker still running after wake", "sleeper woken", "thread", "waker resumed"), log);
    }

    @Test
    void wakeUpsRunInFifoOrderAfterTheWakerTerminates() {
        List<Integer> order = new ArrayList<>();
        Coroutine[] sleepers = new Coroutine[5];
        for (int i = 0; i < sleepers.length; i++) {
            int n = i;
            sleepers[i] = Coroutine.create(() -> {
                Coroutine.yield();
                order.add(n);
            });
            sleepers[i].enter();
        }
        Coroutine.create(() -> {
            for (Coroutine s : sleepers) {
                s.wake();
            }
            order.add(-1); // the waker finishes first
        }).enter();
        assertEquals(List.of(-1, 0, 1, 2, 3, 4), order);
    }

    @Test
    void wakeOutsideACoroutineEntersDirectly() {
        boolean[] ran = {false};
        Coroutine co = Coroutine.create(() -> ran[0] = true);
        co.wake();
        assertTrue(ran[0]);
    }

    @Test
    void wakingItselfRunsAgainRightAfterTheYield() {
        List<String> log = new ArrayList<>();
        Coroutine co = Coroutine.create(() -> {
            Coroutine.self().wake();
            Coroutine.yield();
            log.add("resumed by its own wake");
        });
        co.enter();
        assertEquals(List.of("resumed by its own wake"), log);
    }

    /**
     * /aio/coroutine/queue-chaining without an AioContext: two coroutines wake each other and yield 25 000 times.
     * Each wake-up is queued and run by the enter loop, so the stack does not grow; a nested implementation
     * would overflow it.
     */
    /**
     * A coroutine that wakes itself and then ends instead of yielding: the stale wake is dropped, and the coroutine
     * it woke next still runs. Entering the ended one threw "it has terminated" and dropped the other, which then
     * stayed marked queued, so every later wake or enter of it was refused.
     */
    @Test
    void aSelfWakeOfACoroutineThatThenEndsIsDroppedAndTheOthersStillRun() {
        List<String> log = new ArrayList<>();
        Coroutine b = Coroutine.create(() -> {
            Coroutine.yield();
            log.add("b woken");
            Coroutine.yield();
            log.add("b woken again");
        });
        b.enter();
        Coroutine[] a = new Coroutine[1];
        a[0] = Coroutine.create(() -> {
            a[0].wake();
            b.wake();
            log.add("a ends");
        });
        a[0].enter();
        assertEquals(List.of("a ends", "b woken"), log);
        b.wake(); // not left marked as queued
        assertEquals(List.of("a ends", "b woken", "b woken again"), log);
    }

    @Test
    void queueChainingTwentyFiveThousandRoundTripsDoesNotGrowTheStack() {
        int rounds = 25_000;
        int[] counts = new int[2];
        int[] minDepth = {Integer.MAX_VALUE};
        int[] maxDepth = {0};
        Coroutine[] cos = new Coroutine[2];
        for (int i = 0; i < 2; i++) {
            int me = i;
            cos[i] = Coroutine.create(() -> {
                while (counts[me] < rounds) {
                    counts[me]++;
                    int depth = StackWalker.getInstance().walk(s -> (int) s.count());
                    minDepth[0] = Math.min(minDepth[0], depth);
                    maxDepth[0] = Math.max(maxDepth[0], depth);
                    if (counts[1 - me] < rounds) {
                        cos[1 - me].wake();
                    }
                    Coroutine.yield();
                }
            });
        }
        cos[0].enter();
        // cos[0] finished its last round and yielded; cos[1] reached the limit too and yielded.
        assertEquals(rounds, counts[0]);
        assertEquals(rounds, counts[1]);
        assertEquals(minDepth[0], maxDepth[0], "every round runs at the same stack depth");
        assertFalse(cos[0].entered());
        cos[0].enter(); // let both terminate
        cos[1].enter();
    }
}
