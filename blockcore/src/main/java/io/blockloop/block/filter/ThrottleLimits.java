package io.blockloop.block.filter;

import java.util.ArrayList;
import java.util.List;

/**
 * The limits of a {@link ThrottleDriver} (QEMU's {@code ThrottleConfig}): requests per second and bytes per second,
 * each either for both directions together ({@code total}) or for reads and writes separately; {@code null}
 * means no limit. Discards and write-zeroes count as writes; flushes are not limited. As in QEMU, a total limit
 * and a per-direction limit of the same unit cannot be combined. Immutable value; any thread.
 */
public record ThrottleLimits(ThrottleLimit iopsTotal, ThrottleLimit iopsRead, ThrottleLimit iopsWrite,
                             ThrottleLimit bpsTotal, ThrottleLimit bpsRead, ThrottleLimit bpsWrite) {
    /** No limit at all: every request passes at once. */
    public static final ThrottleLimits NONE = new ThrottleLimits(null, null, null, null, null, null);

    public ThrottleLimits {
        if (iopsTotal != null && (iopsRead != null || iopsWrite != null)) {
            throw new IllegalArgumentException("total and per-direction IOPS limits cannot be used at the same time");
        }
        if (bpsTotal != null && (bpsRead != null || bpsWrite != null)) {
            throw new IllegalArgumentException(
                    "total and per-direction bytes/s limits cannot be used at the same time");
        }
    }

    public ThrottleLimits withIopsTotal(ThrottleLimit limit) {
        return new ThrottleLimits(limit, iopsRead, iopsWrite, bpsTotal, bpsRead, bpsWrite);
    }

    public ThrottleLimits withIopsRead(ThrottleLimit limit) {
        return new ThrottleLimits(iopsTotal, limit, iopsWrite, bpsTotal, bpsRead, bpsWrite);
    }

    public ThrottleLimits withIopsWrite(ThrottleLimit limit) {
        return new ThrottleLimits(iopsTotal, iopsRead, limit, bpsTotal, bpsRead, bpsWrite);
    }

    public ThrottleLimits withBpsTotal(ThrottleLimit limit) {
        return new ThrottleLimits(iopsTotal, iopsRead, iopsWrite, limit, bpsRead, bpsWrite);
    }

    public ThrottleLimits withBpsRead(ThrottleLimit limit) {
        return new ThrottleLimits(iopsTotal, iopsRead, iopsWrite, bpsTotal, limit, bpsWrite);
    }

    public ThrottleLimits withBpsWrite(ThrottleLimit limit) {
        return new ThrottleLimits(iopsTotal, iopsRead, iopsWrite, bpsTotal, bpsRead, limit);
    }

    /** Whether no limit is set. */
    public boolean isUnlimited() {
        return iopsTotal == null && iopsRead == null && iopsWrite == null
                && bpsTotal == null && bpsRead == null && bpsWrite == null;
    }

    /** Whether reads and writes draw on a common bucket: a total limit is set. */
    boolean sharesBudget() {
        return iopsTotal != null || bpsTotal != null;
    }

    /** {@code "iops-total: 100/s burst 10"} lines, one per limit set (QEMU's option names). */
    List<String> describe() {
        List<String> lines = new ArrayList<>();
        line(lines, "iops-total", iopsTotal);
        line(lines, "iops-read", iopsRead);
        line(lines, "iops-write", iopsWrite);
        line(lines, "bps-total", bpsTotal);
        line(lines, "bps-read", bpsRead);
        line(lines, "bps-write", bpsWrite);
        if (lines.isEmpty()) {
            lines.add("limits: none");
        }
        return lines;
    }

    private static void line(List<String> lines, String key, ThrottleLimit limit) {
        if (limit != null) {
            lines.add(key + ": " + limit);
        }
    }
}
