package io.blockloop.block.filter;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The leaky-bucket arithmetic on a virtual clock: the time at which each request of a stream is admitted, and how
 * many sleeps that takes, are exact.
 */
class ThrottleStateTest {
    private static final long MS = 1_000_000;

    /** Drives {@code count} requests of {@code bytes} through {@code state} from t = 0; returns admission times. */
    private static List<Long> admit(ThrottleState state, ThrottleLimits limits, ThrottleDirection direction,
                                    int count, long bytes, long[] sleeps) {
        List<Long> times = new ArrayList<>();
        long now = 0;
        for (int i = 0; i < count; i++) {
            long wait;
            while ((wait = state.waitNs(limits, direction, bytes, now)) > 0) {
                now += wait;
                sleeps[0]++;
            }
            state.account(direction, bytes);
            times.add(now);
        }
        return times;
    }

    @Test
    void anIopsLimitAdmitsTheBurstThenOneRequestPerPeriod() {
        ThrottleLimits limits = ThrottleLimits.NONE.withIopsTotal(new ThrottleLimit(100, 5));
        long[] sleeps = {0};
        List<Long> times = admit(new ThrottleState(), limits, ThrottleDirection.READ, 12, 4096, sleeps);
        assertEquals(List.of(0L, 0L, 0L, 0L, 0L, 10 * MS, 20 * MS, 30 * MS, 40 * MS, 50 * MS, 60 * MS, 70 * MS), times);
        assertEquals(7, sleeps[0], "one sleep per request past the burst");
    }

    @Test
    void aRequestLargerThanTheByteBurstWaitsForAnEmptyBucket() {
        ThrottleLimits limits = ThrottleLimits.NONE.withBpsWrite(new ThrottleLimit(1 << 20, 64 * 1024));
        long[] sleeps = {0};
        List<Long> times = admit(new ThrottleState(), limits, ThrottleDirection.WRITE, 3, 128 * 1024, sleeps);
        assertEquals(List.of(0L, 125 * MS, 250 * MS), times);
        assertEquals(2, sleeps[0]);
    }

    @Test
    void theStrictestLimitOfADirectionDecides() {
        // 1000 IOPS would allow 1 ms spacing; 4 KiB at 400 KiB/s needs 10 ms.
        ThrottleLimits limits = ThrottleLimits.NONE.withIopsRead(new ThrottleLimit(1000, 1))
                .withBpsTotal(new ThrottleLimit(400 * 1024, 4096));
        long[] sleeps = {0};
        List<Long> times = admit(new ThrottleState(), limits, ThrottleDirection.READ, 3, 4096, sleeps);
        assertEquals(List.of(0L, 10 * MS, 20 * MS), times);
    }

    @Test
    void readsAndWritesShareTotalLimitsButNotDirectionLimits() {
        ThrottleState state = new ThrottleState();
        ThrottleLimits perDirection = ThrottleLimits.NONE.withIopsRead(new ThrottleLimit(10, 1))
                .withIopsWrite(new ThrottleLimit(10, 1));
        assertEquals(0, state.waitNs(perDirection, ThrottleDirection.READ, 512, 0));
        state.account(ThrottleDirection.READ, 512);
        assertEquals(100 * MS, state.waitNs(perDirection, ThrottleDirection.READ, 512, 0));
        assertEquals(0, state.waitNs(perDirection, ThrottleDirection.WRITE, 512, 0), "the write bucket is empty");

        ThrottleLimits total = ThrottleLimits.NONE.withIopsTotal(new ThrottleLimit(10, 1));
        assertEquals(0, state.waitNs(total, ThrottleDirection.READ, 512, 0), "new limits: buckets restart empty");
        state.account(ThrottleDirection.READ, 512);
        assertEquals(100 * MS, state.waitNs(total, ThrottleDirection.WRITE, 512, 0), "a read used the total budget");
        assertEquals(50 * MS, state.waitNs(total, ThrottleDirection.WRITE, 512, 50 * MS), "half of it leaked");
    }
}
