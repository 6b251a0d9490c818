package io.blockloop.coroutine;

import org.junit.jupiter.api.Test;

import java.util.logging.Level;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Errors are reported clearly: recursive enters, entering terminated coroutines, failing bodies. */
class CoroutineMisuseTest {

    @Test
    void enteringTheRunningCoroutineFromItselfSaysItIsAlreadyEntered() {
        IllegalStateException[] caught = new IllegalStateException[1];
        Coroutine co = Coroutine.create(() -> caught[0] = assertThrows(IllegalStateException.class,
                () -> Coroutine.self().enter()));
        co.enter();
        assertTrue(caught[0].getMessage().contains("already entered"), caught[0].getMessage());
    }

    @Test
    void enteringTheCallerCoroutineSaysItIsAlreadyEntered() {
        IllegalStateException[] caught = new IllegalStateException[1];
        Coroutine outer = Coroutine.create(() -> {
            Coroutine caller = Coroutine.self();
            Coroutine.create(() -> caught[0] = assertThrows(IllegalStateException.class, caller::enter)).enter();
        });
        outer.enter();
        assertTrue(caught[0].getMessage().contains("already entered"), caught[0].getMessage());
    }

    @Test
    void enteringATerminatedCoroutineSaysItHasTerminated() {
        Coroutine co = Coroutine.create(() -> { });
        co.enter();
        IllegalStateException e = assertThrows(IllegalStateException.class, co::enter);
        assertTrue(e.getMessage().contains("terminated"), e.getMessage());
        Coroutine.create(() -> { }).enter(); // the pool still works
    }

    @Test
    void yieldOutsideACoroutineSaysSo() {
        IllegalStateException e = assertThrows(IllegalStateException.class, Coroutine::yield);
        assertTrue(e.getMessage().contains("outside a coroutine"), e.getMessage());
    }

    @Test
    void wakingACoroutineTwiceBeforeItRunsIsAnError() {
        Coroutine sleeper = Coroutine.create(Coroutine::yield);
        sleeper.enter();
        IllegalStateException[] caught = new IllegalStateException[1];
        Coroutine.create(() -> {
            sleeper.wake();
            caught[0] = assertThrows(IllegalStateException.class, sleeper::wake);
        }).enter();
        assertTrue(caught[0].getMessage().contains("already queued"), caught[0].getMessage());
        assertFalse(sleeper.entered());
    }

    @Test
    void aFailingBodyIsReportedAndTheCoroutineIsNotReused() {
        try (CoroutineLogCapture log = new CoroutineLogCapture()) {
            RuntimeException boom = new RuntimeException("boom");
            Coroutine failing = Coroutine.create(() -> {
                Coroutine.yield();
                throw boom;
            });
            failing.enter();
            failing.enter(); // throws inside; enter itself returns normally
            assertEquals(1, log.records.size());
            assertEquals(Level.SEVERE, log.records.get(0).getLevel());
            assertSame(boom, log.records.get(0).getThrown());
            assertTrue(failing.toString().contains("failed"), failing.toString());

            IllegalStateException e = assertThrows(IllegalStateException.class, failing::enter);
            assertTrue(e.getMessage().contains("terminated"), e.getMessage());
            for (int i = 0; i < 1_000; i++) {
                Coroutine next = Coroutine.create(() -> { });
                assertNotSame(failing, next, "a failed coroutine never comes back from the pool");
                next.enter();
            }
        }
    }

    /** Reported as an error, which is all there is without {@code -ea}; with it (as here) the assertion fails too. */
    @Test
    void aCoroutineTerminatingWithALockHeldIsReportedAndNotPooled() {
        try (CoroutineLogCapture log = new CoroutineLogCapture()) {
            Coroutine[] holder = new Coroutine[1];
            Coroutine co = Coroutine.create(() -> {
                holder[0] = Coroutine.self();
                Coroutine.self().lockAcquired(); // what a coroutine lock does on acquisition
            });
            AssertionError e = assertThrows(AssertionError.class, co::enter);
            assertTrue(e.getMessage().contains("holding 1 coroutine lock"), e.getMessage());
            assertEquals(1, log.records.size());
            assertEquals(Level.SEVERE, log.records.get(0).getLevel());
            assertTrue(log.records.get(0).getMessage().contains("holding 1 coroutine lock(s) and 0 graph read"),
                    log.records.get(0).getMessage());
            Coroutine next = Coroutine.create(() -> { });
            assertNotSame(holder[0], next);
            next.enter();
        }
    }
}
