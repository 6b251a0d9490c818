package io.blockloop.fdmon;

import io.blockloop.ffm.call.Availability;

import java.util.Locale;

/**
 * The monitors a context can ask for: {@code poll}, {@code epoll}, {@code io_uring}, or {@code auto}
 * (io_uring when available, else epoll, else poll).
 *
 * <p>Immutable; any thread.
 */
public enum FdMonitorKind {
    POLL("poll"),
    EPOLL("epoll"),
    IO_URING("io_uring"),
    AUTO("auto");

    private final String label;

    FdMonitorKind(String label) {
        this.label = label;
    }

    /** The name used in options and messages: {@code poll}, {@code epoll}, {@code io_uring}, {@code auto}. */
    public String label() {
        return label;
    }

    /**
     * Whether this monitor can be created here, and if not why. {@link #AUTO} is always available (poll
     * works everywhere). The io_uring answer is probed once per JVM.
     */
    public Availability availability() {
        return switch (this) {
            case POLL, AUTO -> Availability.yes();
            case EPOLL -> EpollFdMonitor.availability();
            case IO_URING -> IoUringFdMonitor.availability();
        };
    }

    /** Parses a label ({@code "io_uring"}, {@code "io-uring"} and any case are accepted). */
    public static FdMonitorKind parse(String text) {
        String t = text.trim().toLowerCase(Locale.ROOT).replace('-', '_');
        for (FdMonitorKind kind : values()) {
            if (kind.label.equals(t)) {
                return kind;
            }
        }
        throw new IllegalArgumentException("unknown fd monitor '" + text + "' (expected poll, epoll, io_uring or auto)");
    }

    @Override
    public String toString() {
        return label;
    }
}
