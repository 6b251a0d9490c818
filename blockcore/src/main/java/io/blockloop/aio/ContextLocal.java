package io.blockloop.aio;

import java.util.Objects;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * A value kept per {@link AioContext}, as a {@link ThreadLocal} is kept per thread: the I/O engines a context's
 * nodes share (QEMU's {@code aio_get_linux_aio}), the graph lock's reader count of that context, and so on. Each
 * context creates its value on first use and hands it to the cleanup action when the context closes.
 *
 * <p>Threads: {@link #get} may be called from any thread; the value is created at most once per context (under
 * the context's lock for locals, the slow path only), and the fast path is one acquire load of the context's
 * slot array plus an array read. Values should be created by the home thread when they are home-thread objects
 * (engines); that is the caller's contract, not checked here. The cleanup runs on the thread that closes the
 * context, before its monitor and handlers are released, so a cleanup may still remove fd handlers.
 */
public final class ContextLocal<T> {
    /** Slot indices: an atomic counter for uniqueness only, no ordering needed. */
    private static final AtomicInteger NEXT_INDEX = new AtomicInteger();

    private final int index = NEXT_INDEX.getAndIncrement();
    private final String name;
    private final Function<AioContext, ? extends T> initial;
    private final Consumer<? super T> cleanup;

    private ContextLocal(String name, Function<AioContext, ? extends T> initial, Consumer<? super T> cleanup) {
        this.name = Objects.requireNonNull(name, "name");
        this.initial = Objects.requireNonNull(initial, "initial");
        this.cleanup = Objects.requireNonNull(cleanup, "cleanup");
    }

    /**
     * A context-local value named {@code name} (for messages), created by {@code initial} on first use in each
     * context and passed to {@code cleanup} when that context closes. Create these once, as static finals: each
     * one takes a slot in every context.
     */
    public static <T> ContextLocal<T> of(String name, Function<AioContext, ? extends T> initial,
                                         Consumer<? super T> cleanup) {
        return new ContextLocal<>(name, initial, cleanup);
    }

    /** The value of {@code ctx}, created now if this is its first use there. Any thread. */
    public T get(AioContext ctx) {
        @SuppressWarnings("unchecked")
        T value = (T) ctx.localSlot(index);
        return value != null ? value : ctx.createLocal(this);
    }

    /** The value of {@code ctx} if it was created, else null; never creates it. Any thread. */
    public T getIfPresent(AioContext ctx) {
        @SuppressWarnings("unchecked")
        T value = (T) ctx.localSlot(index);
        return value;
    }

    int index() {
        return index;
    }

    T create(AioContext ctx) {
        return Objects.requireNonNull(initial.apply(ctx), () -> "context-local '" + name + "' created null");
    }

    @SuppressWarnings("unchecked")
    void cleanUp(Object value) {
        cleanup.accept((T) value);
    }

    @Override
    public String toString() {
        return "ContextLocal[" + name + "]";
    }
}
