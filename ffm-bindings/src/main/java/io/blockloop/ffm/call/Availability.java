package io.blockloop.ffm.call;

import java.util.Objects;

/**
 * Whether a native facility (io_uring, linux-aio, epoll) can be used here, and if not, why.
 *
 * <p>Immutable value; any thread.
 *
 * @param available true when the facility works on this machine, in this process
 * @param reason    why it is unavailable ("liburing.so.2 cannot be loaded", "io_uring_setup: EPERM ..."),
 *                  or {@code null} when available
 */
public record Availability(boolean available, String reason) {
    private static final Availability AVAILABLE = new Availability(true, null);

    public Availability {
        if (available == (reason != null)) {
            throw new IllegalArgumentException("an unavailable facility needs a reason, an available one none");
        }
    }

    public static Availability yes() {
        return AVAILABLE;
    }

    public static Availability no(String reason) {
        return new Availability(false, Objects.requireNonNull(reason));
    }
}
