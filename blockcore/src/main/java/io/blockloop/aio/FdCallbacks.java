package io.blockloop.aio;

import java.util.function.BooleanSupplier;

/**
 * The callbacks of one fd handler (QEMU's {@code io_read}, {@code io_write}, {@code io_poll},
 * {@code io_poll_ready}, {@code io_poll_begin}, {@code io_poll_end}). Every one may be null.
 *
 * <ul>
 *   <li>{@code onRead} runs when the fd is readable, hung up or in error; {@code onWrite} when it is writable or
 *       in error.</li>
 *   <li>{@code poll} is the userspace busy-poll check ("is there work?", no system call); {@code onPollReady}
 *       runs when it said yes. A {@code poll} without {@code onPollReady} is ignored (polling only makes sense
 *       with something to run), and a handler that cannot poll disables busy polling for the whole context
 *       under poll/epoll.</li>
 *   <li>{@code onPollBegin}/{@code onPollEnd} run when the context enters and leaves busy-polling mode (e.g. to
 *       disable and re-enable a device's notifications).</li>
 * </ul>
 * All callbacks run on the context's home thread.
 *
 * <p>Immutable value; any thread.
 */
public record FdCallbacks(Runnable onRead, Runnable onWrite, BooleanSupplier poll, Runnable onPollReady,
                          Runnable onPollBegin, Runnable onPollEnd) {
    private static final FdCallbacks NONE = new FdCallbacks(null, null, null, null, null, null);

    /** No callbacks: registering this removes the handler. */
    public static FdCallbacks none() {
        return NONE;
    }

    public static FdCallbacks read(Runnable onRead) {
        return new FdCallbacks(onRead, null, null, null, null, null);
    }

    public static FdCallbacks write(Runnable onWrite) {
        return new FdCallbacks(null, onWrite, null, null, null, null);
    }

    public static FdCallbacks readWrite(Runnable onRead, Runnable onWrite) {
        return new FdCallbacks(onRead, onWrite, null, null, null, null);
    }

    /** A copy with a busy-poll check and the callback that runs when it finds work. */
    public FdCallbacks withPoll(BooleanSupplier poll, Runnable onPollReady) {
        return new FdCallbacks(onRead, onWrite, poll, onPollReady, onPollBegin, onPollEnd);
    }

    /** A copy with callbacks for entering and leaving busy-polling mode. */
    public FdCallbacks withPollBeginEnd(Runnable onPollBegin, Runnable onPollEnd) {
        return new FdCallbacks(onRead, onWrite, poll, onPollReady, onPollBegin, onPollEnd);
    }

    /** No read, write or poll callback: QEMU's "delete" case of {@code aio_set_fd_handler}. */
    public boolean removesHandler() {
        return onRead == null && onWrite == null && poll == null;
    }

    /** Whether the handler takes part in busy polling (a poll check with something to run). */
    public boolean canPoll() {
        return poll != null && onPollReady != null;
    }
}
