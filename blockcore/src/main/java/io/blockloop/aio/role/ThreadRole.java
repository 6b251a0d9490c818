package io.blockloop.aio.role;

import io.blockloop.aio.AioContext;
import io.blockloop.aio.MainLoop;

/**
 * What the calling thread is, for the run-time checks of {@link GlobalStateCode}, {@link IoCode} and
 * {@link IoOrGlobalStateCode} (QEMU's {@code qemu_in_main_thread()} and friends).
 *
 * <p>The {@code check...} methods return {@code true} or throw an {@link AssertionError} that names the method's
 * rule and the calling thread. Call them inside {@code assert} at method entry, so that they cost nothing without
 * {@code -ea}: {@code assert ThreadRole.checkGlobalState();}.
 *
 * <p>Threads: every method, any thread (each is about the calling thread). Memory ordering: none of its own; it
 * reads the main context with an acquire load ({@link MainLoop#context()}) and the thread's context from a
 * thread-local.
 */
public enum ThreadRole {
    /** The main loop's thread: the home thread of {@link AioContext#main()}, where global-state code runs. */
    MAIN_LOOP,
    /** The home thread of another {@link AioContext} (an IOThread's), bound as that thread's current context. */
    IO_THREAD,
    /** A thread that runs no context: it may only talk to contexts through their thread-safe methods. */
    OTHER;

    /** The role of the calling thread. */
    public static ThreadRole ofCurrentThread() {
        if (MainLoop.isMainThread()) {
            return MAIN_LOOP;
        }
        return AioContext.current() != null ? IO_THREAD : OTHER;
    }

    /** Global-state code: the caller must be the main loop's thread. True, or throws {@link AssertionError}. */
    public static boolean checkGlobalState() {
        if (!MainLoop.isMainThread()) {
            throw new AssertionError("global-state code called on " + describeCurrentThread()
                    + "; it runs only on the main loop's thread" + mainThreadName());
        }
        return true;
    }

    /**
     * I/O code: the caller must run an {@link AioContext} (an IOThread's or the main loop's). True, or throws
     * {@link AssertionError}.
     */
    public static boolean checkIo() {
        if (AioContext.current() == null) {
            throw new AssertionError("I/O code called on " + describeCurrentThread()
                    + "; it runs only on the home thread of an AioContext (an IOThread or the main loop)");
        }
        return true;
    }

    /**
     * I/O-or-global-state code: like {@link #checkIo()}, the caller must run an {@link AioContext}. True, or
     * throws {@link AssertionError}.
     */
    public static boolean checkIoOrGlobalState() {
        if (AioContext.current() == null) {
            throw new AssertionError("I/O-or-global-state code called on " + describeCurrentThread()
                    + "; it runs only on the home thread of an AioContext (an IOThread or the main loop)");
        }
        return true;
    }

    /** "thread 'X' (home of context 'c')" and the like, for messages. */
    public static String describeCurrentThread() {
        String thread = "thread '" + Thread.currentThread().getName() + "'";
        if (MainLoop.isMainThread()) {
            return thread + " (the main loop)";
        }
        AioContext current = AioContext.current();
        return current != null ? thread + " (home of context '" + current.name() + "')" : thread + " (no AioContext)";
    }

    private static String mainThreadName() {
        AioContext main = AioContext.main();
        return main == null ? " (no main loop is running)" : " '" + main.homeThread().getName() + "'";
    }
}
