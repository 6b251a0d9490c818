package io.blockloop.engine;

/**
 * An intrusive FIFO of {@link Request}s, linked through the requests' own {@code prev}/{@code next} fields, so
 * queuing never allocates. A request is in at most one queue at a time and knows which ({@code Request.queue}),
 * which makes {@link #remove} (used by cancellation) O(1).
 *
 * <p>Threads: not thread-safe. Each queue has one guard, named where it is declared: the owner thread for an
 * engine's pending and locally-completed queues, the pool lock for the thread pool's work queue.
 */
final class RequestQueue {
    private Request head;
    private Request tail;
    private int size;

    boolean isEmpty() {
        return head == null;
    }

    int size() {
        return size;
    }

    Request peek() {
        return head;
    }

    boolean contains(Request request) {
        return request.queue == this;
    }

    void add(Request request) {
        assert request.queue == null : "request already queued";
        request.queue = this;
        request.next = null;
        request.prev = tail;
        if (tail == null) {
            head = request;
        } else {
            tail.next = request;
        }
        tail = request;
        size++;
    }

    /** Removes and returns the first request, or null. */
    Request poll() {
        Request first = head;
        if (first != null) {
            unlink(first);
        }
        return first;
    }

    /** Removes {@code request} if it is in this queue; returns whether it was. */
    boolean remove(Request request) {
        if (request.queue != this) {
            return false;
        }
        unlink(request);
        return true;
    }

    /** Moves every request of {@code other} to the end of this queue, keeping their order. */
    void addAll(RequestQueue other) {
        Request r;
        while ((r = other.poll()) != null) {
            add(r);
        }
    }

    private void unlink(Request request) {
        Request p = request.prev;
        Request n = request.next;
        if (p == null) {
            head = n;
        } else {
            p.next = n;
        }
        if (n == null) {
            tail = p;
        } else {
            n.prev = p;
        }
        request.prev = null;
        request.next = null;
        request.queue = null;
        size--;
    }
}
