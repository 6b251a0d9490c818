package io.blockloop.ffm.errno;

/**
 * The one exception every failing native call raises: it names the call, the errno symbol and its text,
 * e.g. {@code "pread: EBADF (Bad file descriptor)"}.
 *
 * <p>Immutable; may cross threads freely.
 */
public final class NativeCallException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final String call;
    private final int errno;

    public NativeCallException(String call, int errno) {
        this(call, errno, null);
    }

    /** {@code detail} (may be null) is appended to the message, e.g. a path or an offset. */
    public NativeCallException(String call, int errno, String detail) {
        super(call + ": " + Errno.symbol(errno) + " (" + Errno.text(errno) + ")"
                + (detail == null ? "" : ": " + detail));
        this.call = call;
        this.errno = errno;
    }

    /** The native function that failed, e.g. {@code "io_uring_setup"}. */
    public String call() {
        return call;
    }

    /** The positive errno value. */
    public int errno() {
        return errno;
    }

    /** The errno symbol, e.g. {@code "EAGAIN"}. */
    public String symbol() {
        return Errno.symbol(errno);
    }

    /**
     * Returns {@code result} when it is not negative; otherwise throws for the errno {@code -result}.
     * For calls that report failure as a negative errno (liburing, libaio, the raw forms of {@code LibC}).
     */
    public static long check(String call, long result) {
        if (result < 0) {
            throw new NativeCallException(call, (int) -result);
        }
        return result;
    }

    /** The {@code int} form of {@link #check(String, long)}. */
    public static int check(String call, int result) {
        if (result < 0) {
            throw new NativeCallException(call, -result);
        }
        return result;
    }
}
