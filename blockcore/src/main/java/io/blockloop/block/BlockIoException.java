package io.blockloop.block;

import io.blockloop.ffm.errno.Errno;

/**
 * A block request that failed: carries the errno (positive, e.g. {@link Errno#EIO}) and a message that says
 * which request on which node failed and why. Thrown by {@code BlockBackend}'s coroutine and blocking APIs and
 * used to complete the futures of its asynchronous API.
 *
 * <p>Immutable; may cross threads freely.
 */
public final class BlockIoException extends RuntimeException {
    private final int errno;

    public BlockIoException(int errno, String message) {
        super(message);
        this.errno = errno;
    }

    /** The failure as a positive errno. */
    public int errno() {
        return errno;
    }

    /** "{@code what}: {@code strerror} ({@code SYMBOL})" for a negative result {@code -errno}. */
    public static BlockIoException of(String what, int negativeErrno) {
        int errno = -negativeErrno;
        return new BlockIoException(errno, what + ": " + Errno.text(errno) + " (" + Errno.symbol(errno) + ")");
    }
}
