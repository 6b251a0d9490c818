package io.blockloop.block.filter;

/**
 * The budget of a {@link ThrottleDriver} (QEMU's {@code ThrottleState}): six {@link LeakyBucket}s, one per limit
 * of {@link ThrottleLimits}, all leaked together from one timestamp. When the limits change, every level drops to
 * zero (as {@code throttle_config} does).
 *
 * <p>Threads: not thread-safe; used on the node's home thread only. The limits are passed in by the caller (which
 * reads them from a volatile field), so a change made by another thread is picked up at the next computation.
 */
final class ThrottleState {
    private final LeakyBucket iopsTotal = new LeakyBucket();
    private final LeakyBucket iopsRead = new LeakyBucket();
    private final LeakyBucket iopsWrite = new LeakyBucket();
    private final LeakyBucket bpsTotal = new LeakyBucket();
    private final LeakyBucket bpsRead = new LeakyBucket();
    private final LeakyBucket bpsWrite = new LeakyBucket();
    private ThrottleLimits applied;
    private long previousLeakNs;

    /**
     * Nanoseconds a request of {@code bytes} in {@code direction} must wait under {@code limits} at time
     * {@code nowNs}: 0 if it may pass now.
     */
    long waitNs(ThrottleLimits limits, ThrottleDirection direction, long bytes, long nowNs) {
        leak(limits, nowNs);
        boolean read = direction == ThrottleDirection.READ;
        long wait = waitNs(iopsTotal, limits.iopsTotal(), 1);
        wait = Math.max(wait, waitNs(read ? iopsRead : iopsWrite, read ? limits.iopsRead() : limits.iopsWrite(), 1));
        wait = Math.max(wait, waitNs(bpsTotal, limits.bpsTotal(), bytes));
        return Math.max(wait, waitNs(read ? bpsRead : bpsWrite, read ? limits.bpsRead() : limits.bpsWrite(), bytes));
    }

    /** Charges an admitted request of {@code bytes} in {@code direction} to the buckets of its limits. */
    void account(ThrottleDirection direction, long bytes) {
        boolean read = direction == ThrottleDirection.READ;
        iopsTotal.account(1);
        (read ? iopsRead : iopsWrite).account(1);
        bpsTotal.account(bytes);
        (read ? bpsRead : bpsWrite).account(bytes);
    }

    private void leak(ThrottleLimits limits, long nowNs) {
        if (limits != applied) {
            applied = limits;
            previousLeakNs = nowNs;
            iopsTotal.reset();
            iopsRead.reset();
            iopsWrite.reset();
            bpsTotal.reset();
            bpsRead.reset();
            bpsWrite.reset();
            return;
        }
        long elapsed = nowNs - previousLeakNs;
        if (elapsed <= 0) {
            return;
        }
        previousLeakNs = nowNs;
        leak(iopsTotal, limits.iopsTotal(), elapsed);
        leak(iopsRead, limits.iopsRead(), elapsed);
        leak(iopsWrite, limits.iopsWrite(), elapsed);
        leak(bpsTotal, limits.bpsTotal(), elapsed);
        leak(bpsRead, limits.bpsRead(), elapsed);
        leak(bpsWrite, limits.bpsWrite(), elapsed);
    }

    private static void leak(LeakyBucket bucket, ThrottleLimit limit, long elapsedNs) {
        if (limit == null) {
            bucket.reset(); // unlimited: nothing accumulates
        } else {
            bucket.leak(limit, elapsedNs);
        }
    }

    private static long waitNs(LeakyBucket bucket, ThrottleLimit limit, long units) {
        return limit == null ? 0 : bucket.waitNs(limit, units);
    }
}
