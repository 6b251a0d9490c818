package io.blockloop.block.graph;

import io.blockloop.aio.testing.IoThreads;
import io.blockloop.coroutine.Coroutine;

import java.util.concurrent.atomic.AtomicReference;

/** Where a test coroutine waits until the test lets it go. */
final class ParkingSpot {
    private final String name;
    private final AtomicReference<Coroutine> parked = new AtomicReference<>();

    ParkingSpot(String name) {
        this.name = name;
    }

    /** Parks the running coroutine until {@link #release()}. Coroutine only. */
    void park() {
        Coroutine self = Coroutine.self();
        // Volatile store before the yield: a releaser on another thread may schedule us before we have yielded,
        // which is allowed (the context enters us only after the yield).
        parked.set(self);
        Coroutine.yield();
    }

    boolean occupied() {
        return parked.get() != null;
    }

    /** Waits (bounded) until a coroutine is parked here, then wakes it in its context. Any thread. */
    void release() {
        IoThreads.waitUntil(this::occupied, () -> "a coroutine parked at " + name);
        parked.getAndSet(null).wake();
    }
}
