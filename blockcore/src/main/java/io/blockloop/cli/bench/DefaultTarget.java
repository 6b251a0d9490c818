package io.blockloop.cli.bench;

import io.blockloop.cli.ByteCount;
import io.blockloop.cli.CommandFailure;
import io.blockloop.ffm.errno.Errno;
import io.blockloop.ffm.errno.NativeCallException;
import io.blockloop.ffm.libc.FileIo;
import io.blockloop.ffm.libc.OpenFlags;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;

/**
 * The image {@code blockloop bench} runs on when no FILE is given: a 1 GiB file in the temporary directory,
 * preallocated with {@code fallocate} (its extents exist, so reads and writes never allocate; reads of the
 * never-written extents return zeroes without touching the disk), opened by the caller with {@code O_DIRECT}.
 *
 * <p>It is created without a name ({@code O_TMPFILE}) and opened by the caller through {@code /proc/self/fd/N}, so
 * it never appears in the directory and the kernel frees it when the last descriptor closes, however the process
 * ends: with a name, a {@code kill -9} in the half second between creating and opening it left 1 GiB behind. Where
 * the file system has no {@code O_TMPFILE}, it gets a unique name, is removed as soon as the image is open (the
 * open descriptor keeps it alive until the process ends), and a shutdown hook removes it should the process end
 * (Ctrl-C) before that.
 *
 * <p>Threads: the main thread creates and removes it; the shutdown hook may race with {@link #remove()}, which
 * is harmless (deleting twice is a no-op).
 */
final class DefaultTarget implements AutoCloseable {
    static final long SIZE = 1L << 30;

    private final Path path;
    private final Path dir;
    /** The unnamed file's descriptor (its only reference until the caller opens it), or -1 for a named file. */
    private int unnamedFd;
    private final Thread hook;
    private final boolean preallocated;
    private boolean removed;

    private DefaultTarget(Path path, Path dir, int unnamedFd, Thread hook, boolean preallocated) {
        this.path = path;
        this.dir = dir;
        this.unnamedFd = unnamedFd;
        this.hook = hook;
        this.preallocated = preallocated;
    }

    /**
     * Creates the image in {@code dir}.
     *
     * @throws CommandFailure (runtime) when the file cannot be created or sized; nothing is left behind
     */
    static DefaultTarget create(Path dir) throws CommandFailure {
        int fd;
        try {
            fd = FileIo.open(dir.toString(), OpenFlags.O_TMPFILE | OpenFlags.O_RDWR | OpenFlags.O_CLOEXEC, 0600);
        } catch (NativeCallException e) {
            if (e.errno() != Errno.EOPNOTSUPP && e.errno() != Errno.EISDIR) { // missing, not a directory, no access
                throw CommandFailure.runtime("bench: cannot create the " + ByteCount.format(SIZE)
                        + " default target in " + dir + ": " + Errno.text(e.errno()) + " (give a FILE to run on)");
            }
            fd = -1; // the file system (EOPNOTSUPP) or the kernel (EISDIR) cannot make unnamed files
        }
        if (fd >= 0) {
            try {
                return new DefaultTarget(Path.of("/proc/self/fd/" + fd), dir, fd, null, allocate(fd));
            } catch (NativeCallException e) {
                FileIo.closeOrErrno(fd);
                throw CommandFailure.runtime("bench: cannot create the " + ByteCount.format(SIZE)
                        + " default target in " + dir + ": " + e.getMessage() + " (give a FILE to run on)");
            }
        }
        return createNamed(dir);
    }

    /** The named way, for file systems without {@code O_TMPFILE}. */
    static DefaultTarget createNamed(Path dir) throws CommandFailure {
        Path path;
        try {
            path = Files.createTempFile(dir, "blockloop-bench-", ".img");
        } catch (IOException | RuntimeException e) {
            throw CommandFailure.runtime("bench: cannot create the default target in " + dir + ": " + reason(e));
        }
        Thread hook = new Thread(() -> deleteQuietly(path), "blockloop-bench-cleanup");
        Runtime.getRuntime().addShutdownHook(hook);
        DefaultTarget target = null;
        try {
            target = new DefaultTarget(path, dir, -1, hook, allocate(path));
            return target;
        } catch (NativeCallException e) {
            throw CommandFailure.runtime("bench: cannot create the " + ByteCount.format(SIZE) + " default target "
                    + path + ": " + e.getMessage() + " (give a FILE to run on)");
        } finally {
            if (target == null) {
                new DefaultTarget(path, dir, -1, hook, false).remove();
            }
        }
    }

    /** Why NIO failed: its file system exceptions carry only the path as their message. */
    private static String reason(Exception e) {
        return switch (e) {
            case NoSuchFileException x -> "No such file or directory";
            case AccessDeniedException x -> "Permission denied";
            case NotDirectoryException x -> "Not a directory";
            case FileSystemException x when x.getReason() != null -> x.getReason();
            default -> String.valueOf(e.getMessage());
        };
    }

    private static boolean allocate(Path path) {
        int fd = FileIo.open(path.toString(), OpenFlags.O_RDWR | OpenFlags.O_CLOEXEC, 0);
        try {
            return allocate(fd);
        } finally {
            FileIo.closeOrErrno(fd);
        }
    }

    /** Sizes the file; true when preallocated, false when the file system cannot (then it is sparse). */
    private static boolean allocate(int fd) {
        int ret = FileIo.fallocateOrErrno(fd, 0, 0, SIZE);
        if (ret == -Errno.EOPNOTSUPP) {
            FileIo.ftruncate(fd, SIZE);
            return false;
        }
        NativeCallException.check("fallocate", ret);
        return true;
    }

    /** Where the caller opens it: {@code /proc/self/fd/N} for the unnamed file, else its name. */
    Path path() {
        return path;
    }

    /** How the first line names it: the name, or the directory of the unnamed file. */
    String description() {
        return hook == null ? "an unnamed file in " + dir : path.toString(); // only the named file needs a hook
    }

    /** Whether {@code fallocate} reserved the extents (false: a sparse file, on file systems without it). */
    boolean preallocated() {
        return preallocated;
    }

    /** Deletes the file (an open descriptor keeps its data until closed) and drops the hook. Idempotent. */
    void remove() {
        if (removed) {
            return;
        }
        removed = true;
        if (hook == null) {
            if (unnamedFd >= 0) {
                FileIo.closeOrErrno(unnamedFd); // the caller's open descriptor, if any, keeps it until the run ends
                unnamedFd = -1;
            }
            return;
        }
        deleteQuietly(path);
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException shuttingDown) {
            // The hook runs (or ran) anyway.
        }
    }

    @Override
    public void close() {
        remove();
    }

    private static void deleteQuietly(Path path) {
        try {
            Files.deleteIfExists(path);
        } catch (IOException ignored) {
            // Nothing more can be done; the name was unique.
        }
    }
}
