package io.blockloop.coroutine;

/**
 * The coroutines that a running coroutine woke in its own context (QEMU's {@code co_queue_wakeup}): instead
 * of entering them from inside the running one, which would nest stacks and could grow without bound, they
 * wait here and the enter loop runs them, in FIFO order, as soon as the owner yields or terminates.
 *
 * <p>The list is intrusive (through {@link Coroutine#wakeNext}), so queueing allocates nothing.
 *
 * <p>Threads: each coroutine owns one queue; it is appended to by the thread running the owner and drained by
 * the enter loop on the same thread right after the owner yields. Memory ordering: plain fields, no sharing.
 */
final class WakeQueue {
    private Coroutine head;
    private Coroutine tail;

    boolean isEmpty() {
        return head == null;
    }

    /** Adds {@code co} at the tail. The caller has checked that {@code co} is on no other wake list. */
    void append(Coroutine co) {
        co.wakeNext = null;
        if (tail == null) {
            head = co;
        } else {
            tail.wakeNext = co;
        }
        tail = co;
    }

    /**
     * Empties this queue in front of the list starting at {@code rest} and returns the new head: coroutines woken
     * most recently run before the ones that were already pending, so wake-ups run depth-first.
     */
    Coroutine drainInFrontOf(Coroutine rest) {
        Coroutine first = head;
        if (first == null) {
            return rest;
        }
        tail.wakeNext = rest;
        head = null;
        tail = null;
        return first;
    }
}
