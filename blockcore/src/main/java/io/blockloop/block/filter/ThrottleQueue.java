package io.blockloop.block.filter;

import io.blockloop.aio.AioContext;
import io.blockloop.aio.Timer;
import io.blockloop.coroutine.CoQueue;
import io.blockloop.coroutine.Coroutine;

import java.util.concurrent.atomic.AtomicLong;

/**
 * The requests of one {@link ThrottleDirection} waiting for budget (QEMU's {@code throttled_reqs[]} queue and
 * throttle timer of a {@code ThrottleGroupMember}). The first request in line is the <em>head</em>: it sleeps on
 * this queue's timer until its budget is there; the others wait in a {@link CoQueue} behind it. When the head is
 * admitted it restarts the next one, which becomes the head; so requests of a direction are admitted in arrival
 * order. A request that arrives while others wait joins the line even if budget is there.
 *
 * <p>The head sleeps on a {@link Timer} of its own rather than {@link Coroutine#sleepNs}, so that a change of
 * limits can end the sleep early ({@link #restartHead()}, QEMU's {@code throttle_group_restart_tgm}); the timer is
 * made once per context, so waiting allocates nothing.
 *
 * <p>Threads: everything but the counters runs on the node's home thread (in coroutines, except
 * {@link #restartHead()} and the timer callback, which run as plain code there). {@link #attach}/{@link #detach}
 * run in the main loop while the node is drained (no request waits). Counters are atomics, read from any thread.
 */
final class ThrottleQueue {
    private final ThrottleDirection direction;
    private final CoQueue line = new CoQueue();
    // Statistics, read by ThrottleDriver.stats() on any thread: atomic counts only, they order nothing else.
    final AtomicLong immediate = new AtomicLong();
    final AtomicLong joined = new AtomicLong();
    final AtomicLong delayed = new AtomicLong();
    final AtomicLong timerWaits = new AtomicLong();
    // ---- home thread ----
    /** Requests in line, the head included (a restarted one counts until it is admitted). */
    private int queued;
    private Coroutine sleepingHead;
    private Timer timer;

    ThrottleQueue(ThrottleDirection direction) {
        this.direction = direction;
    }

    /** Creates the timer in {@code ctx}. Main loop, node drained (or before first use). */
    void attach(AioContext ctx) {
        timer = ctx.newTimer("throttle-" + direction.name().toLowerCase(), this::wakeHead);
    }

    /** Deletes the timer. Main loop, node drained; idempotent. */
    void detach() {
        if (timer != null) {
            timer.delete();
            timer = null;
        }
    }

    /** Whether nobody waits: a new request may take the fast path. */
    boolean isEmpty() {
        return queued == 0;
    }

    /** Gets in line and returns when this request is the head. Coroutine. */
    void join() {
        joined.incrementAndGet();
        queued++;
        if (queued > 1) {
            line.await(); // restarted by the previous head's leave()
        }
    }

    /** Sleeps the head for {@code ns} (or until {@link #restartHead()}). Coroutine, the head. */
    void sleepNs(long ns) {
        timerWaits.incrementAndGet();
        timer.modAfterNs(ns); // fires in a later loop iteration, after the head has parked
        park();
    }

    /**
     * Sleeps the head until {@link #restartHead()}, or its timer if {@link #sleepNs} armed it: without a timer, it is
     * the other direction's turn on a common budget. Coroutine, the head.
     */
    void park() {
        sleepingHead = Coroutine.self();
        Coroutine.yield(); // entered by wakeHead(), from the timer or from restartHead()
    }

    /** The head was admitted: hands the line to the next request. Coroutine, the head. */
    void leave() {
        delayed.incrementAndGet();
        queued--;
        line.next(); // queued behind the caller, runs when it yields: never nested
    }

    /**
     * Ends the head's sleep now, so it re-evaluates its budget and its turn (the limits changed, or the other
     * direction passed the turn to it). Home thread: plain code, or a coroutine (the head then runs when that one
     * yields).
     */
    void restartHead() {
        if (sleepingHead != null) {
            timer.cancel();
            wakeHead();
        }
    }

    private void wakeHead() {
        Coroutine head = sleepingHead;
        if (head != null) {
            sleepingHead = null;
            head.wake();
        }
    }
}
