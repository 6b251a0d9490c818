package io.blockloop.block.filter;

/**
 * One leaky bucket of a {@link ThrottleDriver} (QEMU's {@code LeakyBucket}, {@code throttle_leak_bucket},
 * {@code throttle_compute_wait}): its level is the work done recently, in units (requests or bytes); it leaks at
 * the limit's rate; a request fits when the level plus its units stays within the burst (or, for a request larger
 * than the burst, when the bucket is empty), otherwise it must wait for the excess to leak away.
 *
 * <p>Threads: not thread-safe; owned by one {@link ThrottleState}, used on the node's home thread.
 */
final class LeakyBucket {
    private static final double NS_PER_SECOND = 1e9;
    private double level;

    /** Drains what leaked during {@code elapsedNs} at {@code limit}'s rate. */
    void leak(ThrottleLimit limit, long elapsedNs) {
        level = Math.max(0, level - limit.perSecond() * (elapsedNs / NS_PER_SECOND));
    }

    /** Nanoseconds until {@code units} fit under {@code limit}: 0 if they fit now, else at least 1. */
    long waitNs(ThrottleLimit limit, double units) {
        double capacity = Math.max(limit.burst(), units);
        double extra = level + units - capacity;
        if (extra <= 0) {
            return 0;
        }
        return Math.max(1, (long) Math.ceil(extra * NS_PER_SECOND / limit.perSecond()));
    }

    /** Counts {@code units} of admitted work. */
    void account(double units) {
        level += units;
    }

    void reset() {
        level = 0;
    }

    double level() {
        return level;
    }
}
