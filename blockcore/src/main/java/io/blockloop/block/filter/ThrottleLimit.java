package io.blockloop.block.filter;

/**
 * One rate limit of a {@link ThrottleDriver} (a QEMU {@code LeakyBucket}'s {@code avg} and bucket size): on
 * average {@code perSecond} units (requests or bytes) per second, and up to {@code burst} units at once after a
 * pause. Immutable value; any thread.
 *
 * @param perSecond the sustained rate, {@code > 0}
 * @param burst     the bucket capacity: how many units pass without waiting when the bucket is empty, at least
 *                  1; 0 picks QEMU's default, a tenth of a second's worth ({@code perSecond / 10}, at least 1)
 */
public record ThrottleLimit(long perSecond, long burst) {
    public ThrottleLimit {
        if (perSecond <= 0) {
            throw new IllegalArgumentException("a throttle rate must be positive, not " + perSecond);
        }
        if (burst < 0) {
            throw new IllegalArgumentException("a throttle burst must not be negative, not " + burst);
        }
        if (burst == 0) {
            burst = Math.max(1, perSecond / 10);
        }
    }

    /** {@code perSecond} with the default burst. */
    public static ThrottleLimit of(long perSecond) {
        return new ThrottleLimit(perSecond, 0);
    }

    @Override
    public String toString() {
        return perSecond + "/s burst " + burst;
    }
}
