package io.blockloop.coroutine;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The scenarios of QEMU's tests/unit/test-coroutine.c "/basic/*", on plain threads (no AioContext). */
class CoroutineBasicsTest {

    /** /basic/lifecycle: create, enter, return to the caller; twice (the second one may be pooled). */
    @Test
    void lifecycleCreateEnterReturnTwice() {
        for (int round = 0; round < 2; round++) {
            boolean[] done = {false};
            Coroutine co = Coroutine.create(() -> done[0] = true);
            assertFalse(done[0], "the body does not run before enter");
            co.enter();
            assertTrue(done[0], "round " + round);
            assertFalse(co.entered());
        }
    }

    /** /basic/yield: a coroutine that yields 5 times needs 6 enters to terminate. */
    @Test
    void yieldingFiveTimesNeedsSixEnters() {
        int[] remaining = {5};
        boolean[] done = {false};
        Coroutine co = Coroutine.create(() -> {
            while (remaining[0] > 0) {
                remaining[0]--;
                Coroutine.yield();
            }
            done[0] = true;
        });
        int enters = 0;
        while (!done[0]) {
            co.enter();
            enters++;
        }
        assertEquals(0, remaining[0]);
        assertEquals(6, enters);
    }

    /** /basic/nesting: coroutines entering coroutines 128 levels deep. */
    @Test
    void coroutinesNest128Deep() {
        int max = 128;
        int[] enters = {0};
        int[] returns = {0};
        Runnable[] nest = new Runnable[1];
        nest[0] = () -> {
            enters[0]++;
            if (enters[0] < max) {
                Coroutine child = Coroutine.create(nest[0]);
                child.enter();
            }
            returns[0]++;
        };
        Coroutine root = Coroutine.create(nest[0]);
        root.enter();
        assertEquals(max, enters[0]);
        assertEquals(max, returns[0]);
        assertFalse(Coroutine.inCoroutine());
    }

    /** Nested enters with yields: the inner coroutine's yield returns to the outer coroutine, not to the thread. */
    @Test
    void innerYieldReturnsToTheOuterCoroutine() {
        List<String> log = new ArrayList<>();
        Coroutine inner = Coroutine.create(() -> {
            log.add("inner 1");
            Coroutine.yield();
            log.add("inner 2");
        });
        Coroutine outer = Coroutine.create(() -> {
            log.add("outer 1");
            inner.enter();
            log.add("outer 2");
            Coroutine.yield();
            log.add("outer 3");
            inner.enter();
            log.add("outer 4");
        });
        outer.enter();
        log.add("thread 1");
        outer.enter();
        log.add("thread 2");
        assertEquals(List.of("outer 1", "inner 1", "outer 2", "thread 1", "outer 3", "inner 2", "outer 4", "thread 2"), log);
    }

    /** /basic/self: self() inside the body is the handle create() returned; null outside. */
    @Test
    void selfInsideIsTheCreatedHandle() {
        Coroutine[] seen = new Coroutine[2];
        Coroutine co = Coroutine.create(() -> {
            seen[0] = Coroutine.self();
            Coroutine.yield();
            seen[1] = Coroutine.self();
        });
        co.enter();
        assertSame(co, seen[0]);
        co.enter();
        assertSame(co, seen[1]);
        assertNull(Coroutine.self());
    }

    /** /basic/entered: true for the running coroutine and its caller, false for created and yielded ones. */
    @Test
    void enteredIsTrueForRunningAndCallerFalseForCreatedAndYielded() {
        boolean[] checks = new boolean[6];
        Coroutine[] outerRef = new Coroutine[1];
        Coroutine inner = Coroutine.create(() -> {
            checks[0] = Coroutine.self().entered();
            checks[1] = outerRef[0].entered();
            Coroutine.yield();
        });
        Coroutine outer = Coroutine.create(() -> {
            checks[2] = Coroutine.self().entered();
            checks[3] = inner.entered(); // created, not entered yet
            inner.enter();
            checks[4] = inner.entered(); // yielded
            checks[5] = true;
        });
        outerRef[0] = outer;
        assertFalse(outer.entered(), "a created coroutine is not entered");
        outer.enter();
        assertTrue(checks[0], "the running coroutine is entered");
        assertTrue(checks[1], "its caller coroutine is entered");
        assertTrue(checks[2]);
        assertFalse(checks[3], "a created coroutine is not entered");
        assertFalse(checks[4], "a yielded coroutine is not entered");
        assertTrue(checks[5]);
        assertFalse(inner.entered());
        inner.enter(); // let it terminate
    }

    /** /basic/in_coroutine: false outside, true inside. */
    @Test
    void inCoroutineIsFalseOutsideTrueInside() {
        assertFalse(Coroutine.inCoroutine());
        boolean[] inside = {false};
        Coroutine.create(() -> inside[0] = Coroutine.inCoroutine()).enter();
        assertTrue(inside[0]);
        assertFalse(Coroutine.inCoroutine());
    }

    /** /basic/order: caller and coroutine interleave as (1,1),(2,1),(1,2),(2,2),(1,3). */
    @Test
    void callerAndCoroutineInterleaveInOrder() {
        List<String> records = new ArrayList<>();
        Coroutine co = Coroutine.create(() -> {
            records.add("2,1");
            Coroutine.yield();
            records.add("2,2");
        });
        records.add("1,1");
        co.enter();
        records.add("1,2");
        co.enter();
        records.add("1,3");
        assertEquals(List.of("1,1", "2,1", "1,2", "2,2", "1,3"), records);
    }

    /**
     * /basic/no-dangling-access: c1 enters c2, c2 yields, c1 terminates and its object is reused by a new
     * coroutine; resuming c2 (which c1 had entered) must not touch c1's object.
     */
    @Test
    void resumingACoroutineDoesNotTouchTheTerminatedCoroutineThatEnteredIt() {
        int[] c2Steps = {0};
        Coroutine c2 = Coroutine.create(() -> {
            c2Steps[0]++;
            Coroutine.yield();
            c2Steps[0]++;
        });
        Coroutine c1 = Coroutine.create(c2::enter);
        c1.enter();
        assertEquals(1, c2Steps[0]);

        // c1 has terminated and sits in this thread's pool: the next create() takes its object.
        boolean[] reusedRan = {false};
        Coroutine reused = Coroutine.create(() -> reusedRan[0] = true);
        assertSame(c1, reused, "the terminated coroutine's object is handed out again");

        c2.enter();
        assertEquals(2, c2Steps[0]);
        assertFalse(reusedRan[0], "resuming c2 must not run what now lives in c1's object");
        assertFalse(reused.entered());
        reused.enter();
        assertTrue(reusedRan[0]);
    }

    /** A coroutine created on one thread and yielded may be resumed on another thread (ordered by join/start). */
    @Test
    void aYieldedCoroutineResumesOnAnotherThread() throws Exception {
        String[] threads = new String[2];
        Coroutine co = Coroutine.create(() -> {
            threads[0] = Thread.currentThread().getName();
            Coroutine.yield();
            threads[1] = Thread.currentThread().getName();
        });
        co.enter();
        Thread other = new Thread(co::enter, "other-thread");
        other.start(); // Thread.start orders the first run before this hand-over
        other.join(10_000);
        assertFalse(other.isAlive(), "the other thread finished");
        assertEquals(Thread.currentThread().getName(), threads[0]);
        assertEquals("other-thread", threads[1]);
    }

    /** Yielding inside a synchronized block works (JDK 24+ does not pin monitors). */
    @Test
    void yieldInsideSynchronizedWorks() {
        Object monitor = new Object();
        int[] steps = {0};
        Coroutine co = Coroutine.create(() -> {
            synchronized (monitor) {
                steps[0]++;
                Coroutine.yield();
                steps[0]++;
            }
        });
        co.enter();
        co.enter();
        assertEquals(2, steps[0]);
    }
}
