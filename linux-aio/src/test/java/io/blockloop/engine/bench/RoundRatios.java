package io.blockloop.engine.bench;

import java.util.Locale;

/**
 * The engine/fio ratios of one cell's rounds: their lowest and highest value and their mean with the half-width of
 * its 95 % confidence interval (Student's t for the number of rounds). A round pairs runs made seconds apart, so
 * its ratio cancels most of a shared machine's drift; the interval then says whether the run can tell the cell
 * from a goal (it cannot when the interval contains it). The same statistic as the {@code each mean} column of
 * {@code blockcore/bench/bench-vs-fio-qemu.sh} and {@code blockcore/bench/variants-vs-fio.sh} (both from
 * {@code bin/round-ratios}).
 *
 * <p>Threads: one thread (the driver's main thread).
 */
final class RoundRatios {
    /**
     * Two-sided 95 % quantiles of Student's t for 1 to 30 degrees of freedom; beyond, the value for 30 (an interval
     * a little too wide: the quantile falls to 2.00 at 60 and 1.96 in the limit).
     */
    private static final double[] T_975 = {12.71, 4.30, 3.18, 2.78, 2.57, 2.45, 2.36, 2.31, 2.26, 2.23, 2.20, 2.18,
        2.16, 2.14, 2.13, 2.12, 2.11, 2.10, 2.09, 2.09, 2.08, 2.07, 2.07, 2.06, 2.06, 2.06, 2.05, 2.05, 2.05, 2.04};

    private int count;
    private double sum;
    private double sumOfSquares;
    private double lowest = Double.POSITIVE_INFINITY;
    private double highest = Double.NEGATIVE_INFINITY;

    /** Adds one round's ratio; NaN (no fio run) is ignored. */
    void add(double ratio) {
        if (Double.isNaN(ratio)) {
            return;
        }
        count++;
        sum += ratio;
        sumOfSquares += ratio * ratio;
        lowest = Math.min(lowest, ratio);
        highest = Math.max(highest, ratio);
    }

    /** The lowest and highest ratio of a round, as {@code "0.93-1.08"}; {@code "-"} without rounds. */
    String spread() {
        return count == 0 ? "-" : String.format(Locale.ROOT, "%.2f-%.2f", lowest, highest);
    }

    double mean() {
        return count == 0 ? Double.NaN : sum / count;
    }

    /** Half-width of the mean's 95 % confidence interval; NaN with fewer than two rounds. */
    double halfWidth() {
        if (count < 2) {
            return Double.NaN;
        }
        double mean = sum / count;
        double variance = Math.max(0, (sumOfSquares - count * mean * mean) / (count - 1));
        double t = T_975[Math.min(count - 1, T_975.length) - 1];
        return t * Math.sqrt(variance / count);
    }

    /** The mean and its half-width, as {@code "0.99x+-0.03"}; only the mean for one round, {@code "-"} for none. */
    String meanWithInterval() {
        if (count == 0) {
            return "-";
        }
        if (count == 1) {
            return String.format(Locale.ROOT, "%.2fx", mean());
        }
        return String.format(Locale.ROOT, "%.2fx+-%.2f", mean(), halfWidth());
    }
}
