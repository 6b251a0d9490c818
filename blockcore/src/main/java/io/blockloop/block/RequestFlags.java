package io.blockloop.block;

/**
 * Flags of one block request (QEMU's {@code BdrvRequestFlags}, with its values). Plain {@code int} bit sets so the
 * request path allocates nothing.
 *
 * <p>Constants only; any thread.
 */
public final class RequestFlags {
    /** Write: the data is durable when the request completes (force unit access). */
    public static final int FUA = 0x10;
    /** Write-zeroes: the range may be deallocated instead of written, if it then reads back as zeroes. */
    public static final int MAY_UNMAP = 0x4;
    /** Write-zeroes: fail with {@code -ENOTSUP} rather than writing a buffer of zeroes. */
    public static final int NO_FALLBACK = 0x100;

    private RequestFlags() {
    }
}
