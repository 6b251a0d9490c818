package io.blockloop.ffm.libc;

import io.blockloop.ffm.call.NativeLibrary;

import java.lang.foreign.FunctionDescriptor;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * {@code gettid(2)}: the kernel's id of the calling OS thread. Code running in a coroutine that moves between
 * threads may see a stale {@link Thread#currentThread()} (compiled code can keep the value it read before the
 * coroutine moved); the kernel's answer is always the thread that executes the call, so ownership assertions
 * confirm a mismatch with it before they fail. A downcall (tens of nanoseconds): for checks, not fast paths.
 *
 * <p>Threads: any thread.
 */
public final class ThreadId {
    private static final MethodHandle GETTID = NativeLibrary.libc().downcall("gettid", FunctionDescriptor.of(JAVA_INT));

    private ThreadId() {
    }

    /**
     * Whether the caller is {@code thread}, whose kernel id is {@code tid}: the cheap {@link Thread} comparison,
     * and on a mismatch the kernel's answer (the mismatch may be a stale {@link Thread#currentThread()}, see the
     * class comment). Any thread.
     */
    public static boolean isCurrent(Thread thread, int tid) {
        return thread == Thread.currentThread() || current() == tid;
    }

    /** The calling OS thread's id. Any thread. */
    public static int current() {
        try {
            return (int) GETTID.invokeExact();
        } catch (Throwable t) {
            throw FileIo.rethrow(t);
        }
    }
}
