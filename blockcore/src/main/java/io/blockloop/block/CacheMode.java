package io.blockloop.block;

import java.util.Locale;

/**
 * The {@code cache=} modes of QEMU ({@code bdrv_parse_cache_mode}): whether the host page cache is bypassed
 * ({@code O_DIRECT}), whether every write is made durable before it completes (write-through, done with FUA),
 * and whether flushes are ignored.
 *
 * <p>Immutable; any thread.
 */
public enum CacheMode {
    /** {@code O_DIRECT}, flushes honoured: the default for BlockLoop and what benchmarks use. */
    NONE("none", true, false, false),
    /** Page cache, flushes honoured. */
    WRITEBACK("writeback", false, false, false),
    /** Page cache, every write durable on completion. */
    WRITETHROUGH("writethrough", false, true, false),
    /** {@code O_DIRECT} and every write durable on completion. */
    DIRECTSYNC("directsync", true, true, false),
    /** Page cache, flushes ignored: fast and unsafe on a crash. */
    UNSAFE("unsafe", false, false, true);

    private final String option;
    private final boolean direct;
    private final boolean writeThrough;
    private final boolean ignoreFlush;

    CacheMode(String option, boolean direct, boolean writeThrough, boolean ignoreFlush) {
        this.option = option;
        this.direct = direct;
        this.writeThrough = writeThrough;
        this.ignoreFlush = ignoreFlush;
    }

    /** Parses a {@code -t} argument: a mode's name, or {@code off} for {@code none} as QEMU accepts it. */
    public static CacheMode parse(String text) {
        String t = text.toLowerCase(Locale.ROOT);
        if (t.equals("off")) {
            return NONE; // QEMU's other name for none (bdrv_parse_cache_mode)
        }
        for (CacheMode m : values()) {
            if (m.option.equals(t)) {
                return m;
            }
        }
        throw new IllegalArgumentException("invalid cache mode '" + text
                + "' (expected none, writeback, writethrough, directsync or unsafe)");
    }

    public String option() {
        return option;
    }

    /** Whether files are opened with {@code O_DIRECT}. */
    public boolean direct() {
        return direct;
    }

    /** Whether every write carries FUA. */
    public boolean writeThrough() {
        return writeThrough;
    }

    /** Whether flushes are skipped. */
    public boolean ignoreFlush() {
        return ignoreFlush;
    }
}
