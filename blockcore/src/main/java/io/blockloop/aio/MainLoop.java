package io.blockloop.aio;

import io.blockloop.fdmon.FdMonitorKind;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Supplier;

/**
 * The main loop: the one context that global-state code runs in (QEMU's {@code qemu_aio_context}). Its home
 * thread is whichever thread calls {@link #init}; closing the context ends the main loop, after which
 * {@link #init} may be called again (tests start a fresh main loop per test).
 *
 * <p>Threads: {@link #init} any thread (it becomes the main thread); {@link #context()} and
 * {@link #isMainThread()} any thread; {@link #addCloseCheck} any thread. Memory ordering: the context is published
 * with a volatile compare-and-set, and read with an acquire load; the close checks live in a copy-on-write list.
 */
public final class MainLoop {
    private static final VarHandle CONTEXT;

    static {
        try {
            CONTEXT = MethodHandles.lookup().findStaticVarHandle(MainLoop.class, "context", AioContext.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    @SuppressWarnings("unused") // through CONTEXT
    private static AioContext context;

    /** What must be done before the main loop may close ({@link #addCloseCheck}). */
    private static final List<Supplier<String>> CLOSE_CHECKS = new CopyOnWriteArrayList<>();

    private MainLoop() {
    }

    /**
     * Creates the main context on the calling thread (busy polling off, as in QEMU) and makes it that thread's
     * {@link AioContext#current()}.
     *
     * @throws IllegalStateException when a main loop is already running (close its context first)
     */
    public static AioContext init(FdMonitorKind kind) {
        AioContext existing = context();
        if (existing != null) {
            throw new IllegalStateException("the main loop already runs on thread '" + existing.homeThread().getName()
                    + "'; close its context first");
        }
        AioContext created = AioContext.create("main", kind);
        if (!CONTEXT.compareAndSet((AioContext) null, created)) {
            created.close();
            throw new IllegalStateException("another thread initialised the main loop concurrently");
        }
        created.bindToCurrentThread();
        return created;
    }

    /** {@link #init(FdMonitorKind)} with {@link FdMonitorKind#AUTO}. */
    public static AioContext init() {
        return init(FdMonitorKind.AUTO);
    }

    /** The main context, or null. Any thread. */
    public static AioContext context() {
        AioContext c = (AioContext) CONTEXT.getAcquire(); // pairs with the CAS in init(): a fully built context
        return c == null || c.isClosed() ? null : c;
    }

    /** Whether the calling thread runs the main loop. Any thread. */
    public static boolean isMainThread() {
        AioContext c = context();
        return c != null && c.inHomeThread();
    }

    /**
     * Returns normally on the main loop's thread; elsewhere throws, saying which thread that is or that no main loop
     * runs. For global-state code (QEMU's {@code GLOBAL_STATE_CODE()}) that must not run anywhere else: opening and
     * closing backends, draining outside a coroutine. Any thread.
     *
     * @param what what the caller was about to do, as the message's subject ("BlockBackend.open")
     * @throws IllegalStateException off the main loop's thread, or when no main loop runs
     */
    public static void requireMainThread(String what) {
        AioContext c = context();
        if (c == null) {
            throw new IllegalStateException(what + " runs in the main loop, and no main loop runs: call MainLoop.init()"
                    + " first, on the thread that opens and closes backends");
        }
        if (!c.inHomeThread()) {
            throw new IllegalStateException(what + " runs in the main loop, on thread '" + c.homeThread().getName()
                    + "', not on '" + Thread.currentThread().getName() + "'");
        }
    }

    /**
     * Adds a check that the main context's {@link AioContext#close()} runs first: it answers null when the main
     * loop may close, or what is still open that only the main loop can close (the block layer's nodes: a backend
     * closes by draining in the main loop, so closing the main loop first stranded them, open and locked). Any
     * thread; checks stay for the life of the JVM.
     */
    public static void addCloseCheck(Supplier<String> check) {
        CLOSE_CHECKS.add(check);
    }

    /** Throws when a close check refuses: called by the main context's close before it changes anything. */
    static void checkMayClose(AioContext main) {
        for (Supplier<String> check : CLOSE_CHECKS) {
            String open = check.get();
            if (open != null) {
                throw new IllegalStateException("AioContext '" + main.name() + "' is the main loop and cannot close"
                        + " while " + open);
            }
        }
    }

    /** Called by {@link AioContext#close()}: ends the main loop if {@code closed} was its context. */
    static void forget(AioContext closed) {
        CONTEXT.compareAndSet(closed, (AioContext) null); // clears only its own context; publishes nothing
    }
}
