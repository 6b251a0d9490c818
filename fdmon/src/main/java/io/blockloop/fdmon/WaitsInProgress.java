package io.blockloop.fdmon;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * How many calls of a monitor's {@code wait} are running (nested ones count), so that {@code close()} from another
 * thread during a wait is refused instead of unmapping or freeing what the wait uses: an io_uring monitor closed
 * that way crashed the waiting JVM thread on the unmapped CQ ring, and the poll and epoll monitors were left half
 * closed with their arena stuck. {@code close()} belongs to the home thread (or to another thread once the home
 * thread stopped); this guard catches the usual mistake, not every race.
 *
 * <p>Threads: {@link #enter()} and {@link #exit()} on the home thread, which alone writes the count: release stores
 * (plain on x86), so a wait pays no fence. {@link #checkNotWaiting} from any thread, with a volatile load; it may
 * miss a wait that starts at the same moment (the race this guard does not claim to close). {@link #inProgress}
 * from any thread (tests).
 */
final class WaitsInProgress {
    private static final VarHandle DEPTH;

    static {
        try {
            DEPTH = MethodHandles.lookup().findVarHandle(WaitsInProgress.class, "depth", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    @SuppressWarnings("unused") // through DEPTH
    private int depth;

    /** Home thread, as a wait starts. */
    void enter() {
        DEPTH.setRelease(this, (int) DEPTH.getOpaque(this) + 1);
    }

    /** Home thread, as a wait ends (normally or not). */
    void exit() {
        DEPTH.setRelease(this, (int) DEPTH.getOpaque(this) - 1);
    }

    /**
     * Whether a wait is running: true from the moment {@code wait} starts, before it can block in the kernel, until
     * it returns. For tests whose other thread must act during a wait (a {@code close()} that must be refused): they
     * wait for this instead of sleeping and hoping. Any thread; the acquire load pairs with the release stores in
     * {@link #enter()} and {@link #exit()}.
     */
    boolean inProgress() {
        return (int) DEPTH.getAcquire(this) != 0;
    }

    /** Throws {@link IllegalStateException} when a wait is running; {@code monitor} names it. Any thread. */
    void checkNotWaiting(String monitor) {
        if ((int) DEPTH.getVolatile(this) != 0) {
            throw new IllegalStateException(monitor + ": close() while its home thread waits in it; close it from "
                    + "the home thread, after the wait returned");
        }
    }
}
