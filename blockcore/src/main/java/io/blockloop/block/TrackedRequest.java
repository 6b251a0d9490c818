package io.blockloop.block;

import io.blockloop.coroutine.CoQueue;

/**
 * One request in flight on a node, as {@link TrackedRequests} knows it (QEMU's {@code BdrvTrackedRequest}): its
 * byte range and whether it is serialising (a read-modify-write cycle that nothing overlapping may interleave
 * with). Pooled per node; the fields are touched only on the node's home thread.
 */
final class TrackedRequest {
    long offset;
    long bytes;
    boolean serialising;
    /** The request this one is waiting for; non-null only while it waits, before its I/O starts. */
    TrackedRequest waitingFor;
    /** Coroutines waiting for this request to end. */
    final CoQueue waiters = new CoQueue();
    TrackedRequest prev;
    TrackedRequest next;

    boolean overlaps(long otherOffset, long otherBytes) {
        return offset < otherOffset + otherBytes && otherOffset < offset + bytes;
    }
}
