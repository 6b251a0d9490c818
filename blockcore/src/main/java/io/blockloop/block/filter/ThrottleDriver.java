package io.blockloop.block.filter;

import io.blockloop.aio.AioContext;
import io.blockloop.coroutine.Coroutine;
import io.blockloop.block.BlockChild;
import io.blockloop.block.IoVector;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.LongSupplier;

/**
 * The {@code throttle} filter driver (QEMU's {@code block/throttle.c} over {@code util/throttle.c}, for one node
 * rather than a throttle group): a pass-through to its {@code file} child that holds requests back to stay within
 * {@link ThrottleLimits} — requests per second and bytes per second, total or per direction, each with a burst.
 *
 * <p>Each limit is a {@link LeakyBucket} on the context's clock ({@link AioContext#nowNs()}). A request is admitted
 * at once when nobody of its direction waits and every bucket of its direction has room; otherwise it queues
 * ({@link ThrottleQueue}): the first in line sleeps until the budget is there, the others wait behind it, so the
 * requests of a direction are admitted in arrival order. Reads and writes do not wait for each other under limits
 * of their own direction. Under a total limit they share the buckets, and they take turns: while requests of one
 * direction wait, those of the other do not pass ahead of them, and while both wait, the older head goes first and
 * then the two directions alternate. Without turns, a stream of small requests of one direction kept a larger one
 * of the other out for ever, since each small one found room before the large one did. Admission charges the
 * buckets, then the request goes to the child unchanged. Reads are reads; writes, discards and write-zeroes are
 * writes; flushes pass without limit.
 *
 * <p>{@link #setThrottleLimits} may be called at any time from any thread: the new limits apply to the next
 * admission decision, the buckets restart empty (as QEMU's {@code throttle_config}), and sleeping queue heads are
 * woken through a bottom half of the node's context so they re-evaluate at once. {@link #disableLimits()} and
 * {@link #enableLimits()} suspend the limits without changing them (nestable; QEMU's {@code io_limits_disabled},
 * which its throttle filter raises in {@code drained_begin} so a drain does not wait for the throttle): waiting
 * requests are released in order, new ones pass, and nothing is charged to the buckets meanwhile.
 *
 * <h2>Threads</h2>
 * I/O methods: coroutines on the node's home thread, as every driver; they may yield (while queued). A test's
 * clock (package-private {@link #open(BlockChild, ThrottleLimits, LongSupplier)}) is called there too.
 * {@link #attachContext}, {@link #detachContext}, {@link #close}: main loop, node drained. {@link #throttleLimits},
 * {@link #setThrottleLimits}, {@link #disableLimits}, {@link #enableLimits}, {@link #stats}: any thread.
 *
 * <h2>Memory ordering</h2>
 * The limits are one immutable record in a volatile field: the request path reads it once per decision, so it
 * never mixes two configurations; the disable count is an atomic, read once per decision. Bucket levels and
 * queues are plain fields of the home thread. {@code context} is volatile: written by the main loop on a move
 * (node drained), read by {@link #setThrottleLimits} from any thread. Stats counters are atomics.
 */
public final class ThrottleDriver implements FilterDriver {
    private final BlockChild file;
    private final ThrottleState state = new ThrottleState();
    private final ThrottleQueue reads = new ThrottleQueue(ThrottleDirection.READ);
    private final ThrottleQueue writes = new ThrottleQueue(ThrottleDirection.WRITE);
    // A count read once per decision; nothing else rides on it. disableLimits() then wakes the heads (scheduleRestart).
    private final AtomicInteger limitsDisabled = new AtomicInteger();
    /** The clock of admission decisions; null: the context's ({@link AioContext#nowNs()}). */
    private final LongSupplier clock;
    private volatile ThrottleLimits limits;
    private volatile AioContext context;
    /**
     * Under a total limit, the direction whose head goes next while both directions have requests waiting; home
     * thread.
     */
    private ThrottleDirection turn = ThrottleDirection.READ;
    private boolean closed;

    private ThrottleDriver(BlockChild file, ThrottleLimits limits, AioContext context, LongSupplier clock) {
        this.file = file;
        this.limits = limits;
        this.context = context;
        this.clock = clock;
        reads.attach(context);
        writes.attach(context);
    }

    /**
     * A throttle filter over {@code file}'s node, in that node's context, enforcing {@code limits}. Main loop.
     */
    public static ThrottleDriver open(BlockChild file, ThrottleLimits limits) {
        Objects.requireNonNull(file, "file");
        Objects.requireNonNull(limits, "limits");
        return new ThrottleDriver(file, limits, file.node().context(), null);
    }

    /**
     * {@link #open(BlockChild, ThrottleLimits)} with admission decided on {@code clock} (nanoseconds, never going
     * back) instead of the context's clock, for tests: a clock that stands still keeps the buckets where they are
     * however long the machine stalls. A waiting head still sleeps on a timer of the context for the wait that
     * clock gave, and then decides again on {@code clock}. Main loop.
     */
    static ThrottleDriver open(BlockChild file, ThrottleLimits limits, LongSupplier clock) {
        Objects.requireNonNull(file, "file");
        Objects.requireNonNull(limits, "limits");
        return new ThrottleDriver(file, limits, file.node().context(), Objects.requireNonNull(clock, "clock"));
    }

    @Override
    public BlockChild file() {
        return file;
    }

    /** The limits in force. Any thread. */
    public ThrottleLimits throttleLimits() {
        return limits;
    }

    /**
     * Replaces the limits; requests waiting re-evaluate their budget under the new ones at once (the buckets
     * restart empty, also when {@code newLimits} is the object in force: applying the limits again resets the
     * throttle). Any thread.
     */
    public void setThrottleLimits(ThrottleLimits newLimits) {
        Objects.requireNonNull(newLimits, "newLimits");
        // The request path restarts the buckets when it meets another object (ThrottleState compares identity):
        // the limits in force, applied again, go in as a copy. Before, re-applying them changed nothing, while an
        // equal copy emptied the buckets.
        ThrottleLimits fresh = newLimits != limits ? newLimits : new ThrottleLimits(newLimits.iopsTotal(),
                newLimits.iopsRead(), newLimits.iopsWrite(), newLimits.bpsTotal(), newLimits.bpsRead(),
                newLimits.bpsWrite());
        limits = fresh; // volatile store: the request path's next read
        scheduleRestart(context);
    }

    /**
     * Suspends the limits until the matching {@link #enableLimits()}: waiting requests are released (in order)
     * and new ones pass without being charged. Nestable. Any thread.
     */
    public void disableLimits() {
        if (limitsDisabled.getAndIncrement() == 0) {
            scheduleRestart(context);
        }
    }

    /** Ends one {@link #disableLimits()}; the last one puts the limits back in force. Any thread. */
    public void enableLimits() {
        if (limitsDisabled.getAndUpdate(n -> Math.max(0, n - 1)) == 0) {
            throw new IllegalStateException("enableLimits without disableLimits");
        }
    }

    /**
     * A drained section lifts the limits, so the requests waiting here flush out and the drain can finish
     * (QEMU's throttle filter does the same in its drain callbacks). Main loop.
     */
    @Override
    public void drainBegin() {
        disableLimits();
    }

    /** The end of the outermost drained section puts the limits back. Main loop. */
    @Override
    public void drainEnd() {
        enableLimits();
    }

    /** Whether {@link #disableLimits()} is in effect. Any thread. */
    public boolean limitsDisabled() {
        return limitsDisabled.get() > 0;
    }

    /** What the throttle did to requests of {@code direction} so far. Any thread. */
    public ThrottleStats stats(ThrottleDirection direction) {
        ThrottleQueue q = queue(direction);
        long delayed = q.delayed.get();
        return new ThrottleStats(q.immediate.get(), delayed, Math.max(0, q.joined.get() - delayed),
                q.timerWaits.get());
    }

    private void restartQueues(AioContext where) {
        AioContext now = context;
        if (where != now) {
            scheduleRestart(now); // the node moved after the change: its waiters (if any) live there now
            return;
        }
        reads.restartHead();
        writes.restartHead();
    }

    /** Wakes the sleeping queue heads in {@code ctx}'s home thread; nothing to wake once the context is gone. */
    private void scheduleRestart(AioContext ctx) {
        if (ctx.inHomeThread() && !Coroutine.inCoroutine()) {
            restartQueues(ctx); // plain code of the home thread: wake the heads now, no BH left behind
            return;
        }
        try {
            ctx.scheduleOneShot("throttle-restart", () -> restartQueues(ctx));
        } catch (IllegalStateException closedMeanwhile) {
            // A closed context has no running request, hence no sleeper to wake.
        }
    }

    private ThrottleQueue queue(ThrottleDirection direction) {
        return direction == ThrottleDirection.READ ? reads : writes;
    }

    /**
     * Returns when a request of {@code bytes} in {@code direction} may go: at once, or after waiting its turn and
     * its budget. Coroutine on the home thread.
     */
    private void admit(ThrottleDirection direction, long bytes) {
        ThrottleQueue q = queue(direction);
        ThrottleQueue other = queue(direction.other());
        if (q.isEmpty() && !sharedBudgetWaiters(other) && waitNs(direction, bytes) == 0) {
            account(direction, bytes);
            q.immediate.incrementAndGet();
            return;
        }
        q.join();
        if (other.isEmpty()) {
            turn = direction; // the older waiter of the two directions goes first
        }
        try {
            while (true) {
                if (turn != direction && sharedBudgetWaiters(other)) {
                    q.park(); // woken when the other direction's head passes, or the limits change
                    continue;
                }
                long wait = waitNs(direction, bytes);
                if (wait == 0) {
                    break;
                }
                q.sleepNs(wait);
            }
            account(direction, bytes);
        } finally {
            q.leave();
            if (!other.isEmpty()) {
                turn = direction.other();
                other.restartHead();
            }
        }
    }

    /** Whether requests of {@code other}'s direction wait for a budget this direction shares: a total limit. */
    private boolean sharedBudgetWaiters(ThrottleQueue other) {
        return !other.isEmpty() && limitsDisabled.get() == 0 && limits.sharesBudget();
    }

    private long waitNs(ThrottleDirection direction, long bytes) {
        if (limitsDisabled.get() > 0) {
            return 0;
        }
        return state.waitNs(limits, direction, bytes, clock == null ? context.nowNs() : clock.getAsLong());
    }

    private void account(ThrottleDirection direction, long bytes) {
        if (limitsDisabled.get() == 0) {
            state.account(direction, bytes);
        }
    }

    // ------------------------------------------------------------------ BlockDriver

    @Override
    public String formatName() {
        return "throttle";
    }

    @Override
    public int coPreadv(long offset, long bytes, IoVector qiov, int flags) {
        admit(ThrottleDirection.READ, bytes);
        return file.node().coPreadv(offset, bytes, qiov, flags);
    }

    @Override
    public int coPwritev(long offset, long bytes, IoVector qiov, int flags) {
        admit(ThrottleDirection.WRITE, bytes);
        return file.node().coPwritev(offset, bytes, qiov, flags);
    }

    @Override
    public int coPdiscard(long offset, long bytes) {
        admit(ThrottleDirection.WRITE, bytes);
        return file.node().coPdiscard(offset, bytes);
    }

    @Override
    public int coPwriteZeroes(long offset, long bytes, int flags) {
        admit(ThrottleDirection.WRITE, bytes);
        return file.node().coPwriteZeroes(offset, bytes, flags);
    }

    @Override
    public void attachContext(AioContext ctx) {
        context = ctx;
        reads.attach(ctx);
        writes.attach(ctx);
    }

    @Override
    public void detachContext() {
        reads.detach();
        writes.detach();
    }

    @Override
    public List<String> describe() {
        List<String> lines = new ArrayList<>(limits.describe());
        if (limitsDisabled()) {
            lines.add("limits disabled: yes");
        }
        for (ThrottleDirection direction : ThrottleDirection.values()) {
            ThrottleStats s = stats(direction);
            lines.add("throttled " + direction.name().toLowerCase() + "s: " + s.delayed() + " of " + s.admitted()
                    + " delayed, " + s.waiting() + " waiting");
        }
        return lines;
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        reads.detach();
        writes.detach();
    }
}
