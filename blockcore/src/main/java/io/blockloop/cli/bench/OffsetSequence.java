package io.blockloop.cli.bench;

/**
 * The offsets of a benchmark's requests, in the order they are issued; {@link #next()} allocates nothing.
 *
 * <ul>
 *   <li><b>Sequential</b> ({@code qemu-img bench}): starts at {@code offset}, advances by {@code step} and wraps
 *       as qemu's {@code bench_cb} does since its 2025 fix: modulo {@code imageSize - size}, or to 0 when the
 *       image is no larger than one request.</li>
 *   <li><b>Random</b>: {@code offset + k * step} with k drawn uniformly from every value that keeps the request
 *       inside the image ({@code offset + k * step + size <= imageSize}); with the default step (= size) that is
 *       fio's {@code randread} with {@code blockalign = bs}. The generator is SplitMix64, seeded, so a run
 *       repeats; the bound is applied with Lemire's unbiased multiply-and-reject.</li>
 * </ul>
 *
 * <p>{@link #restartEvery} makes it start over after a number of offsets: a write benchmark's warm-up repeats the
 * measured run's offsets and writes nothing else.
 *
 * <p>Threads: one thread (the main loop's coroutines); not thread-safe.
 */
final class OffsetSequence {
    private final boolean random;
    private final long offset;
    private final long step;
    private final long size;
    private final long imageSize;
    /** Random mode: how many distinct offsets there are ({@code kMax + 1}). */
    private final long choices;
    private final long seed;
    private long current;
    private long state;
    /**
     * Offsets handed out since the last start; {@link #period} of them before starting over. "Never" is
     * {@link Long#MAX_VALUE}, not a separate case: the warm-up and the measured run then take the same branch in
     * {@link #next()}, and the JIT's code for it survives the switch (see {@code BenchRun}'s deadline).
     */
    private long handedOut;
    private long period = Long.MAX_VALUE;

    private OffsetSequence(boolean random, long offset, long step, long size, long imageSize, long seed) {
        this.random = random;
        this.offset = offset;
        this.step = step;
        this.size = size;
        this.imageSize = imageSize;
        this.seed = seed;
        this.current = offset;
        this.state = seed;
        this.choices = step == 0 ? 1 : (imageSize - size - offset) / step + 1;
    }

    /** qemu-img bench's walk. */
    static OffsetSequence sequential(long offset, long step, long size, long imageSize) {
        return new OffsetSequence(false, offset, step, size, imageSize, 0);
    }

    /**
     * Uniform random multiples of {@code step} above {@code offset}; needs {@code offset + size <= imageSize}.
     *
     * @throws IllegalArgumentException when not even one request fits
     */
    static OffsetSequence random(long offset, long step, long size, long imageSize, long seed) {
        if (offset > imageSize - size) {
            throw new IllegalArgumentException("no " + size + "-byte request fits between offset " + offset
                    + " and the end of the image (" + imageSize + " bytes)");
        }
        return new OffsetSequence(true, offset, step, size, imageSize, seed);
    }

    /** The offset of the next request. */
    long next() {
        if (handedOut == period) {
            startOver();
        }
        handedOut++;
        if (random) {
            return offset + step * bounded(choices);
        }
        long o = current;
        current = imageSize <= size ? 0 : addModulo(current, step, imageSize - size);
        return o;
    }

    /**
     * Starts over from the first offset now, and again after every {@code period} offsets from here on (0: never
     * again).
     */
    void restartEvery(long period) {
        this.period = period == 0 ? Long.MAX_VALUE : period;
        startOver();
    }

    /** Sequential: the offset {@link #next()} returns next (where a run continuing the walk starts). */
    long upcoming() {
        return current;
    }

    private void startOver() {
        current = offset;
        state = seed;
        handedOut = 0;
    }

    /**
     * {@code (a + b) mod m} for {@code a, b >= 0} and {@code m > 0}, without the overflow of
     * {@code a + b} (an image near 8 EiB with a large step made the walk negative).
     */
    static long addModulo(long a, long b, long m) {
        long x = a % m;
        long y = b % m;
        return x >= m - y ? x - (m - y) : x + y;
    }

    /** Random mode: the highest offset it can return; sequential: -1 (it wraps). */
    long highest() {
        return random ? offset + step * (choices - 1) : -1;
    }

    /** Uniform in {@code [0, n)}, n > 0 (Lemire 2019). */
    private long bounded(long n) {
        long x = nextLong();
        long lo = x * n;
        if (Long.compareUnsigned(lo, n) < 0) {
            long threshold = Long.remainderUnsigned(-n, n);
            while (Long.compareUnsigned(lo, threshold) < 0) {
                x = nextLong();
                lo = x * n;
            }
        }
        return Math.unsignedMultiplyHigh(x, n);
    }

    /** SplitMix64 (Steele, Lea, Flood 2014). */
    private long nextLong() {
        long z = (state += 0x9E3779B97F4A7C15L);
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
