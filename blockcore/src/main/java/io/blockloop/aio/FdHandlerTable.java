package io.blockloop.aio;

import io.blockloop.fdmon.FdMonitor;

import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The fd handlers of one context, by fd (the mutating half of QEMU's {@code aio_set_fd_handler}): adds,
 * replaces (copy-on-write) and removes handlers, keeps the count of handlers that cannot busy-poll, and tells
 * the {@link FdMonitor} about every change.
 *
 * <p>Threads: every method may be called from any thread; all state is guarded by {@code synchronized (this)},
 * which also serialises the monitor updates of one fd. The count of non-polling handlers is additionally
 * volatile, read by the home thread without the lock on each iteration. The caller wakes the loop after a
 * change ({@code notifyLoop}).
 */
final class FdHandlerTable {
    private final Map<Integer, FdHandler> byFd = new HashMap<>();
    private final FdMonitor monitor;
    /**
     * A count only: changed under the lock, read by the home thread without it ({@link #someHandlerCannotPoll()});
     * the volatile store/load pair carries the count and nothing else.
     */
    private volatile int cannotPollCount;
    /**
     * Set under the lock after the old handler's {@code markDeletedRelease()}; the home thread's volatile load and
     * {@code getAndSet} in {@link #takeDeletedSinceSweep()} pair with that store, so the sweep after it sees that
     * handler deleted. An atomic take, so a deletion on another thread between the load and the reset is not lost.
     */
    private final AtomicBoolean deletedSinceSweep = new AtomicBoolean();
    private boolean closed;

    FdHandlerTable(FdMonitor monitor) {
        this.monitor = monitor;
    }

    /** Sets, replaces or (with callbacks that {@link FdCallbacks#removesHandler()}) removes the handler of fd. */
    synchronized void set(int fd, FdCallbacks callbacks, boolean contextNotifier) {
        if (closed) {
            if (callbacks.removesHandler()) {
                return; // the context closed and forgot every handler already
            }
            throw new IllegalStateException("the context is closed");
        }
        FdHandler old = byFd.get(fd);
        if (callbacks.removesHandler()) {
            if (old == null) {
                return;
            }
            byFd.remove(fd);
            old.markDeletedRelease();
            deletedSinceSweep.set(true);
            cannotPollCount -= old.canPoll() ? 0 : 1;
            monitor.update(old.node, null);
            return;
        }
        FdHandler handler = new FdHandler(fd, callbacks, contextNotifier);
        byFd.put(fd, handler);
        int change = handler.canPoll() ? 0 : 1;
        if (old != null) {
            old.markDeletedRelease();
            deletedSinceSweep.set(true);
            change -= old.canPoll() ? 0 : 1;
        }
        cannotPollCount += change;
        monitor.update(old == null ? null : old.node, handler.node);
    }

    /** Replaces the poll begin/end callbacks of the live handler of fd; false when there is none. */
    synchronized boolean setPollBeginEnd(int fd, Runnable begin, Runnable end) {
        FdHandler handler = byFd.get(fd);
        if (handler == null) {
            return false;
        }
        handler.pollBegin = begin;
        handler.pollEnd = end;
        return true;
    }

    /** The live handler of {@code fd}, or null. */
    synchronized FdHandler get(int fd) {
        return byFd.get(fd);
    }

    synchronized boolean contains(int fd) {
        return byFd.containsKey(fd);
    }

    synchronized int size() {
        return byFd.size();
    }

    /** Whether some handler cannot busy-poll (QEMU's {@code poll_disable_cnt != 0}). Volatile; any thread. */
    boolean someHandlerCannotPoll() {
        return cannotPollCount != 0;
    }

    /** Whether a handler was deleted since the last call, resetting the flag. Home thread. */
    boolean takeDeletedSinceSweep() {
        // The plain volatile load first: the loop calls this every iteration, and a deletion is rare.
        return deletedSinceSweep.get() && deletedSinceSweep.getAndSet(false);
    }

    /** Removes every handler and refuses new ones (context close). */
    synchronized void removeAll() {
        closed = true;
        for (FdHandler handler : byFd.values()) {
            handler.markDeletedRelease();
            monitor.update(handler.node, null);
        }
        byFd.clear();
        cannotPollCount = 0;
    }
}
