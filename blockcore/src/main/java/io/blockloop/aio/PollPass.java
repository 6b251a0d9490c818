package io.blockloop.aio;

import io.blockloop.fdmon.FdNode;
import io.blockloop.fdmon.ReadySink;

import java.util.Arrays;

/**
 * The per-iteration state of one {@link AioContext#poll} call at one nesting depth: the wait timeout as it is
 * refined by busy polling, whether polling already found progress, and the ready list (QEMU's local
 * {@code ready_list}), which is also the {@link ReadySink} the monitor reports into.
 *
 * <p>A handler is on at most one ready list: reporting it into a nested pass moves it there
 * ({@link FdHandler#readyPass} names its list), so the outer pass skips it afterwards and no readiness is
 * dispatched twice (QEMU's {@code QLIST_SAFE_REMOVE} in {@code aio_add_ready_handler}).
 *
 * <p>Threads: the home thread only; one instance per depth, reused by every poll at that depth.
 */
final class PollPass implements ReadySink {
    final int depth;
    long timeoutNs;
    boolean progress;
    /** Busy polling ran a full window without finding work; it ended at {@link #spinEndNs}. */
    boolean spinUnpaid;
    long spinEndNs;
    /** The spin of this iteration was a {@link WindowProbe probe} of closed windows. */
    boolean probing;
    private FdHandler[] ready = new FdHandler[16];
    private int count;

    PollPass(int depth) {
        this.depth = depth;
    }

    void begin(long timeoutNs) {
        this.timeoutNs = timeoutNs;
        this.progress = false;
        this.spinUnpaid = false;
        this.probing = false;
        if (count != 0) {
            // Left over only if a dispatch was cut short by an error that escaped poll(): forget those entries.
            for (int i = 0; i < count; i++) {
                if (ready[i] != null && ready[i].readyPass == this) {
                    ready[i].readyPass = null;
                }
            }
            clear();
        }
    }

    @Override
    public void ready(FdNode node, int revents) {
        add((FdHandler) node.owner(), revents, false);
    }

    /** A busy-poll check of {@code handler} found work. */
    void addPollReady(FdHandler handler) {
        add(handler, 0, true);
    }

    private void add(FdHandler handler, int revents, boolean pollReady) {
        if (handler.readyPass == this) {
            handler.revents |= revents;
            handler.pollReady |= pollReady;
            return;
        }
        handler.readyPass = this;
        handler.revents = revents;
        handler.pollReady = pollReady;
        if (count == ready.length) {
            ready = Arrays.copyOf(ready, count * 2);
        }
        ready[count++] = handler;
    }

    int count() {
        return count;
    }

    /** The i-th entry, or null when it moved to another pass or was taken already. Clears the slot. */
    FdHandler take(int i) {
        FdHandler handler = ready[i];
        ready[i] = null;
        if (handler == null || handler.readyPass != this) {
            return null;
        }
        handler.readyPass = null;
        return handler;
    }

    void clear() {
        Arrays.fill(ready, 0, count, null);
        count = 0;
    }
}
