package io.blockloop.block;

import java.util.ArrayDeque;

/**
 * The requests in flight on one node and the serialisation between them (QEMU's {@code tracked_requests},
 * {@code serialising_in_flight}, {@code bdrv_wait_serialising_requests}).
 *
 * <p>Every request is tracked from before its first yield to its end. A serialising request (a read-modify-write
 * cycle of padding) waits for every overlapping request, and every request overlapping a serialising one waits
 * for it. Only requests that have started their I/O count: one that is still waiting is skipped, since it checks
 * again when it wakes, so waits never form a cycle. When no serialising request is in flight the check costs one
 * comparison.
 *
 * <p>Threads: the home thread of the node's context only (all of the node's requests run there), so no lock:
 * the waits are {@link io.blockloop.coroutine.CoQueue}s of coroutines of that thread. Tracked requests are
 * pooled, so tracking allocates nothing in steady state.
 */
final class TrackedRequests {
    private final ArrayDeque<TrackedRequest> pool = new ArrayDeque<>();
    private TrackedRequest head;
    private int serialisingInFlight;

    /** Starts tracking {@code [offset, offset + bytes)}. */
    TrackedRequest begin(long offset, long bytes, boolean serialising) {
        TrackedRequest r = pool.pollFirst();
        if (r == null) {
            r = new TrackedRequest();
        }
        r.offset = offset;
        r.bytes = bytes;
        r.serialising = serialising;
        r.waitingFor = null;
        r.prev = null;
        r.next = head;
        if (head != null) {
            head.prev = r;
        }
        head = r;
        if (serialising) {
            serialisingInFlight++;
        }
        return r;
    }

    /**
     * Waits (yielding the calling coroutine) until no overlapping request conflicts with {@code request}: for a
     * serialising request, none overlapping at all; otherwise none overlapping that is serialising.
     */
    void waitForConflicts(TrackedRequest request) {
        if (serialisingInFlight == 0) {
            return;
        }
        boolean waited;
        do {
            waited = false;
            for (TrackedRequest other = head; other != null; other = other.next) {
                // A request that is itself waiting has not started its I/O yet: it will check again (and then wait
                // for us) when it wakes, so waiting for it could only build a cycle of waiters (QEMU's rule too).
                if (other == request || other.waitingFor != null || !(request.serialising || other.serialising)
                        || !other.overlaps(request.offset, request.bytes)) {
                    continue;
                }
                request.waitingFor = other;
                other.waiters.await();
                request.waitingFor = null;
                waited = true;
                break; // the list may have changed while we slept: look again from the start
            }
        } while (waited);
    }

    /** Stops tracking {@code request}, restarts its waiters and returns it to the pool. */
    void end(TrackedRequest request) {
        if (request.prev != null) {
            request.prev.next = request.next;
        } else {
            head = request.next;
        }
        if (request.next != null) {
            request.next.prev = request.prev;
        }
        if (request.serialising) {
            serialisingInFlight--;
        }
        request.prev = null;
        request.next = null;
        if (!request.waiters.isEmpty()) {
            request.waiters.restartAll();
        }
        pool.addFirst(request);
    }

    /** Whether a request is tracked. Home thread. */
    boolean isEmpty() {
        return head == null;
    }
}
