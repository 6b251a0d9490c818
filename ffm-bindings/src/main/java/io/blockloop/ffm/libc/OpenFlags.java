package io.blockloop.ffm.libc;

/**
 * {@code open(2)}/{@code fcntl(2)} flag values for Linux x86-64 ({@code asm-generic/fcntl.h}).
 *
 * <p>Thread safety: constants only; any thread.
 */
public final class OpenFlags {
    public static final int O_RDONLY = 0;
    public static final int O_WRONLY = 01;
    public static final int O_RDWR = 02;
    public static final int O_ACCMODE = 03;
    public static final int O_CREAT = 0100;
    public static final int O_EXCL = 0200;
    public static final int O_TRUNC = 01000;
    public static final int O_APPEND = 02000;
    public static final int O_NONBLOCK = 04000;
    public static final int O_DSYNC = 010000;
    public static final int O_DIRECT = 040000;
    public static final int O_LARGEFILE = 0100000;
    public static final int O_DIRECTORY = 0200000;
    public static final int O_NOFOLLOW = 0400000;
    public static final int O_CLOEXEC = 02000000;
    /**
     * A descriptor that names the file without opening it for I/O: {@code fstat} works on it, and opening one never
     * blocks (a FIFO's read-only open waits for a writer) nor needs read or write permission.
     */
    public static final int O_PATH = 010000000;
    /**
     * {@code O_TMPFILE} ({@code __O_TMPFILE | O_DIRECTORY}): an unnamed regular file in the directory given as the
     * path, freed by the kernel when its last descriptor closes.
     */
    public static final int O_TMPFILE = 020000000 | O_DIRECTORY;
    /** {@code openat}'s "relative to the current directory". */
    public static final int AT_FDCWD = -100;

    private OpenFlags() {
    }
}
