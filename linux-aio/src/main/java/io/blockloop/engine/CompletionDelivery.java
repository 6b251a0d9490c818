package io.blockloop.engine;

import io.blockloop.ffm.errno.Errno;

/**
 * The completion side every engine shares: hands finished requests to their {@link CompletionHandler}s, keeps the
 * requests an engine finished by itself (cancellations, submit errors) until the next reaping call, and carries
 * what handlers throw to the end of the outermost reaping call.
 *
 * <ul>
 *   <li>{@link #deliver} releases the slot <em>before</em> it calls the handler, so a handler may submit (and
 *       reuse the slot) or reap again (nested).</li>
 *   <li>A throwing handler does not stop the others: the first throwable is kept (later ones added as suppressed)
 *       and {@link #rethrowIfOutermost()} rethrows it when the outermost reaping call ends.</li>
 *   <li>{@link #deliverFinishedLocally()} is bounded: it delivers the requests queued when it starts, not those
 *       its handlers finish meanwhile.</li>
 * </ul>
 *
 * <p>Threads: the engine's owner thread only (the one that reaps, or the closer after the owner stopped). No
 * memory ordering of its own: an engine acquires a request's result (ring tail load, done-stack take) before it
 * calls {@link #deliver}.
 */
final class CompletionDelivery {
    /**
     * How deep reaping calls may run inside one another: a handler that reaps again, one of whose handlers reaps again,
     * and so on. A reaping call that would be nested deeper delivers nothing and returns 0 at once, without touching
     * the completion fd; the calls below it or the next reaping call deliver what it leaves, and an event loop still
     * sees the fd readable for it. Why a bound: when the kernel completes requests as they are submitted (O_DIRECT
     * reads on tmpfs do), a chain of handlers that each submit and reap again recurses once per request. Without the
     * bound, 400 such requests overflowed a test thread's stack, and the {@link StackOverflowError}, thrown half-way
     * through an engine's bookkeeping, lost completions without a word. 32 is far deeper than any nested event loop
     * goes, and far shallower than a stack.
     */
    static final int MAX_REAP_DEPTH = 32;

    private final RequestPool pool;
    /** Finished without the kernel or a worker (cancelled, refused at submission), waiting for delivery. */
    private final RequestQueue finishedLocally = new RequestQueue();
    private int reapDepth;
    /** What handlers (and {@link BlockingCall}s) threw during the current outermost reaping call. */
    private Throwable failure;

    CompletionDelivery(RequestPool pool) {
        this.pool = pool;
    }

    /**
     * Completes {@code r} with {@code result} without the kernel or a worker; the next reaping call delivers it.
     * The engine makes its completion fd readable if it needs to.
     */
    void finishLocally(Request r, long result) {
        r.result = result;
        r.state = Request.DONE;
        finishedLocally.add(r);
    }

    /** {@link #finishLocally} with {@code -ECANCELED} for every request of {@code queue}, emptying it. */
    void cancelAll(RequestQueue queue) {
        Request r;
        while ((r = queue.poll()) != null) {
            finishLocally(r, -Errno.ECANCELED);
        }
    }

    boolean hasFinishedLocally() {
        return !finishedLocally.isEmpty();
    }

    /** Delivers the locally finished requests queued now (not those queued by their handlers); returns how many. */
    int deliverFinishedLocally() {
        int count = finishedLocally.size();
        int delivered = 0;
        Request r;
        while (delivered < count && (r = finishedLocally.poll()) != null) {
            deliver(r);
            delivered++;
        }
        return delivered;
    }

    /** Releases {@code r}'s slot, then calls its handler with its result, keeping what the handler throws. */
    void deliver(Request r) {
        CompletionHandler handler = r.handler;
        long tag = r.tag;
        long result = r.result;
        Throwable callFailure = r.callFailure;
        pool.release(r);
        if (callFailure != null) {
            failure = Handlers.add(failure, callFailure);
        }
        failure = Handlers.invoke(handler, tag, result, failure);
    }

    /**
     * Whether a reaping call starting now would be nested deeper than {@link #MAX_REAP_DEPTH}: it must return 0
     * before it delivers or resets anything.
     */
    boolean tooDeepToReap() {
        return reapDepth >= MAX_REAP_DEPTH;
    }

    /** Whether a reaping call is running (the caller may be one of its handlers). */
    boolean reaping() {
        return reapDepth > 0;
    }

    /** Starts a reaping call (they nest: a handler may reap again). */
    void enterReap() {
        reapDepth++;
    }

    /** Ends a reaping call, normally or not; call {@link #rethrowIfOutermost()} after a normal end. */
    void exitReap() {
        reapDepth--;
    }

    /**
     * Refuses an engine's close() while a reaping call runs: the call still walks the engine's ring, eventfd and
     * slots when its handlers return, so close() must not release them. From a completion handler the check is
     * exact. From another thread it is a guard against the usual mistake, not a synchronisation: the depth is
     * the owner's plain field, and a close racing the start of a reap is not caught (the caller must order close()
     * after the owner's last use, as {@link IoEngine} says).
     *
     * @throws IllegalStateException when a reaping call is seen running, naming which of the two cases it is
     */
    void checkNotReaping(String engine, OwnerThread owner) {
        if (reapDepth == 0) {
            return;
        }
        if (owner.isAnotherThread()) {
            throw new IllegalStateException(engine + ": close() from another thread while the owner is reaping ("
                    + owner.describe() + "); close it on the owner, or after the owner has stopped using it");
        }
        throw new IllegalStateException(engine + ": close() from a completion handler; close the engine after"
                + " the reaping call returns (the call still walks what close() would release)");
    }

    /** After the outermost reaping call ended normally: rethrows what handlers threw in it, if anything. */
    void rethrowIfOutermost() {
        if (reapDepth == 0 && failure != null) {
            Throwable f = failure;
            failure = null;
            Handlers.rethrow(f);
        }
    }
}
