package io.blockloop.block;

import io.blockloop.aio.AioContext;
import io.blockloop.aio.MainLoop;
import io.blockloop.coroutine.Coroutine;

/**
 * Runs a drain step asked for by a coroutine in the main loop, outside any coroutine, and resumes the coroutine
 * when it is done (QEMU's {@code bdrv_co_yield_to_drain}). A coroutine must not poll (it would re-enter its own
 * loop from inside a request), and a drain polls: so the coroutine schedules a one-shot BH in the main context
 * and yields; the BH runs the step and wakes the coroutine in its own context.
 *
 * <p>This is also why a drain from an IOThread's coroutine cannot deadlock against the main loop: the coroutine
 * holds no thread, only its place in its context, and the main loop runs the step whenever it polls, including
 * from inside a nested wait of its own (a graph write lock waiting for readers runs BHs while it waits).
 *
 * <p>Threads: {@link #run} is called by a coroutine of any context. Memory ordering: the BH hand-over (the BH
 * list's atomic publication) orders everything before the schedule with the step; the coroutine wake-up
 * (scheduling into the coroutine's context) orders the step's effects with the code after the yield.
 */
final class DrainHandOff {
    private DrainHandOff() {
    }

    static void run(Runnable step) {
        AioContext main = MainLoop.context();
        if (main == null) {
            throw new IllegalStateException("drain from a coroutine needs a running main loop");
        }
        Coroutine self = Coroutine.self();
        Throwable[] failure = new Throwable[1];
        main.scheduleOneShot("drain-hand-off", () -> {
            try {
                step.run();
            } catch (Throwable t) {
                failure[0] = t;
            } finally {
                self.wake();
            }
        });
        Coroutine.yield();
        if (failure[0] instanceof RuntimeException e) {
            throw e;
        }
        if (failure[0] instanceof Error e) {
            throw e;
        }
    }
}
