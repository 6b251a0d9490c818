package io.blockloop.aio;

import io.blockloop.fdmon.FdNode;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * One registered fd handler of a context (QEMU's {@code AioHandler}); the owner object of its {@link FdNode}.
 * Replacing the callbacks of an fd makes a new handler (copy-on-write) and marks the old one deleted.
 *
 * <p>Threads: created and deleted under the context's {@link FdHandlerTable} lock (any thread); its busy-poll
 * and ready-list state is touched only by the home thread. The poll begin/end callbacks may be replaced on the
 * live handler from any thread ({@code aio_set_event_notifier_poll}); they are volatile.
 *
 * <p>Memory ordering: {@link #markDeletedRelease()} is a release store read by {@link #isDeletedAcquire()} on
 * the home thread before each callback; a handler removed by another thread may still run a callback that
 * had already started, or one more that the home thread had already decided on (as in QEMU, where RCU keeps
 * only the memory alive).
 */
final class FdHandler {
    private static final VarHandle DELETED;

    static {
        try {
            DELETED = MethodHandles.lookup().findVarHandle(FdHandler.class, "deleted", boolean.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    final int fd;
    final FdCallbacks callbacks;
    final boolean contextNotifier;
    final FdNode node;
    final String name;
    /**
     * Replaced by {@code FdHandlerTable.setPollBeginEnd} (any thread, under the table lock) and read by
     * {@link AdaptivePoller} on the home thread without it: the volatile store/load pair shows the callback built.
     */
    volatile Runnable pollBegin;
    volatile Runnable pollEnd;
    @SuppressWarnings("unused") // through DELETED
    private boolean deleted;

    // ---- home thread only: busy polling (AdaptivePoller) ----
    long pollNs;
    long pollIdleTimeoutNs;
    boolean inPollList;
    /**
     * Its poll-ready callback is running: a nested loop's dispatch of its fd must not put it back in the polled set,
     * where the nested busy poll ran that callback inside itself (session 26).
     */
    boolean pollReadyRunning;
    // ---- home thread only: ready list (PollPass) ----
    PollPass readyPass;
    int revents;
    boolean pollReady;

    FdHandler(int fd, FdCallbacks callbacks, boolean contextNotifier) {
        this.fd = fd;
        this.callbacks = callbacks;
        this.contextNotifier = contextNotifier;
        this.pollBegin = callbacks.onPollBegin();
        this.pollEnd = callbacks.onPollEnd();
        this.name = contextNotifier ? "context notifier" : "fd " + fd;
        this.node = new FdNode(fd, FdNode.eventsFor(callbacks.onRead() != null, callbacks.onWrite() != null), this);
    }

    boolean canPoll() {
        return callbacks.canPoll();
    }

    void markDeletedRelease() {
        DELETED.setRelease(this, true);
    }

    boolean isDeletedAcquire() {
        return (boolean) DELETED.getAcquire(this);
    }

    @Override
    public String toString() {
        return "FdHandler[" + name + "]";
    }
}
