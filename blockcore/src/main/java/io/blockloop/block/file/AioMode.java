package io.blockloop.block.file;

import io.blockloop.engine.IoUringEngine;
import io.blockloop.engine.LinuxAioEngine;
import io.blockloop.engine.ThreadPoolEngine;
import io.blockloop.ffm.call.Availability;

import java.util.Locale;

/**
 * The {@code aio=} choice of the {@code file} driver: which {@link io.blockloop.engine.IoEngine} moves its
 * requests. {@link #AUTO} picks the best one available: io_uring, then Linux AIO (only with {@code O_DIRECT},
 * where it is truly asynchronous), then threads.
 *
 * <p>Immutable; any thread.
 */
public enum AioMode {
    IO_URING("io_uring"),
    NATIVE("native"),
    THREADS("threads"),
    AUTO("auto");

    private final String option;

    AioMode(String option) {
        this.option = option;
    }

    /** Parses a {@code -i} argument. */
    public static AioMode parse(String text) {
        for (AioMode m : values()) {
            if (m.option.equals(text.toLowerCase(Locale.ROOT))) {
                return m;
            }
        }
        throw new IllegalArgumentException("invalid aio mode '" + text
                + "' (expected io_uring, native, threads or auto)");
    }

    public String option() {
        return option;
    }

    /** Whether the engine of this mode can run on this machine, and if not why. Not for {@link #AUTO}. */
    public Availability availability() {
        return switch (this) {
            case IO_URING -> IoUringEngine.availability();
            case NATIVE -> LinuxAioEngine.availability();
            case THREADS -> ThreadPoolEngine.availability();
            case AUTO -> throw new IllegalStateException("auto is resolved, not probed");
        };
    }
}
