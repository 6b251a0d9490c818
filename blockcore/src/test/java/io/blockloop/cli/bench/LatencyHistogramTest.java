package io.blockloop.cli.bench;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LatencyHistogramTest {
    private static final double[] PERCENTILES = {0, 1, 10, 50, 90, 99, 99.9, 99.99, 100};

    @Test
    void bucketsTileTheWholeRangeWithoutGapsOrOverlaps() {
        long expectedLow = 0;
        int last = LatencyHistogram.indexOf(Long.MAX_VALUE);
        for (int i = 0; i <= last; i++) {
            assertEquals(expectedLow, LatencyHistogram.lowestOf(i), "bucket " + i);
            assertEquals(i, LatencyHistogram.indexOf(LatencyHistogram.lowestOf(i)));
            long width = LatencyHistogram.widthOf(i);
            assertEquals(i, LatencyHistogram.indexOf(LatencyHistogram.lowestOf(i) + width - 1));
            if (LatencyHistogram.lowestOf(i) >= 256) {
                assertTrue(width * 128 <= LatencyHistogram.lowestOf(i), "bucket " + i + " wider than 1/128");
            } else {
                assertEquals(1, width);
            }
            expectedLow += width;
        }
        assertEquals(Long.MIN_VALUE, expectedLow, "the last bucket ends at Long.MAX_VALUE");
    }

    @Test
    void smallValuesAreExact() {
        LatencyHistogram h = new LatencyHistogram();
        for (int v = 1; v <= 200; v++) {
            h.record(v);
        }
        assertEquals(100, h.percentile(50));
        assertEquals(198, h.percentile(99));
        assertEquals(1, h.percentile(0));
        assertEquals(200, h.percentile(100));
        assertEquals(100.5, h.mean(), 1e-9);
    }

    @Test
    void uniformDistributionWithinOnePercent() {
        SplittableRandom random = new SplittableRandom(42);
        long[] values = new long[200_000];
        for (int i = 0; i < values.length; i++) {
            values[i] = random.nextLong(1_000, 10_000_000);
        }
        checkAgainstSorted(values);
    }

    @Test
    void exponentialAndLongTailedDistributionsWithinOnePercent() {
        SplittableRandom random = new SplittableRandom(7);
        long[] exponential = new long[100_000];
        long[] pareto = new long[100_000];
        for (int i = 0; i < exponential.length; i++) {
            exponential[i] = Math.round(-Math.log(1 - random.nextDouble()) * 50_000);
            pareto[i] = Math.round(20_000 / Math.pow(1 - random.nextDouble(), 1 / 1.5));
        }
        checkAgainstSorted(exponential);
        checkAgainstSorted(pareto);
    }

    @Test
    void bimodalLatenciesKeepBothModes() {
        LatencyHistogram h = new LatencyHistogram();
        for (int i = 0; i < 990; i++) {
            h.record(100_000); // 100 us
        }
        for (int i = 0; i < 10; i++) {
            h.record(20_000_000); // 20 ms
        }
        assertEquals(100_000, h.percentile(50), 100_000 * 0.01);
        assertEquals(100_000, h.percentile(99), 100_000 * 0.01);
        assertEquals(20_000_000, h.percentile(99.9), 20_000_000 * 0.01);
        assertEquals(100_000, h.min());
        assertEquals(20_000_000, h.max());
        assertEquals(1000, h.count());
    }

    @Test
    void emptyResetAndBadInput() {
        LatencyHistogram h = new LatencyHistogram();
        assertEquals(0, h.percentile(99));
        assertEquals(0, h.min());
        assertEquals(0, h.mean());
        h.record(-5); // a clock that went backwards counts as 0
        h.record(Long.MAX_VALUE);
        assertEquals(0, h.min());
        assertEquals(Long.MAX_VALUE, h.percentile(100));
        h.reset();
        assertEquals(0, h.count());
        assertEquals(0, h.percentile(50));
        assertThrows(IllegalArgumentException.class, () -> h.percentile(101));
        assertThrows(IllegalArgumentException.class, () -> h.percentile(Double.NaN));
    }

    private static void checkAgainstSorted(long[] values) {
        LatencyHistogram h = new LatencyHistogram();
        for (long v : values) {
            h.record(v);
        }
        long[] sorted = values.clone();
        Arrays.sort(sorted);
        for (double p : PERCENTILES) {
            long rank = Math.max(1, (long) Math.ceil(p / 100 * sorted.length));
            long exact = sorted[(int) rank - 1];
            long got = h.percentile(p);
            assertEquals(exact, got, Math.max(1, exact * 0.01), "p" + p);
        }
        assertEquals(sorted[0], h.min());
        assertEquals(sorted[sorted.length - 1], h.max());
        assertEquals(Arrays.stream(values).average().orElseThrow(), h.mean(), 1e-6 * h.mean());
    }
}
