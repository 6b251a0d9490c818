package io.blockloop.cli.bench;

import io.blockloop.cli.ByteCount;
import io.blockloop.cli.CommandFailure;
import io.blockloop.ffm.errno.Errno;
import io.blockloop.ffm.errno.NativeCallException;
import io.blockloop.ffm.libc.FileIo;
import io.blockloop.ffm.libc.OpenFlags;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The image {@code blockloop bench} runs on when no FILE is given: a 1 GiB file with a unique name in the
 * temporary directory, preallocated with {@code fallocate} (its extents exist, so reads and writes never allocate;
 * reads of the never-written extents return zeroes without touching the disk), opened by the caller with
 * {@code O_DIRECT}. It is removed as soon as the image is open (the open descriptor keeps it alive until the
 * process ends, so even a killed process leaves nothing behind), and a shutdown hook removes it should the
 * process end (Ctrl-C) before that.
 *
 * <p>Threads: the main thread creates and removes it; the shutdown hook may race with {@link #remove()}, which
 * is harmless (deleting twice is a no-op).
 */
final class DefaultTarget implements AutoCloseable {
    static final long SIZE = 1L << 30;

    private final Path path;
    private final Thread hook;
    private final boolean preallocated;
    private boolean removed;

    private DefaultTarget(Path path, Thread hook, boolean preallocated) {
        this.path = path;
        this.hook = hook;
        this.preallocated = preallocated;
    }

    /**
     * Creates the image in {@code dir}.
     *
     * @throws CommandFailure (runtime) when the file cannot be created or sized; nothing is left behind
     */
    static DefaultTarget create(Path dir) throws CommandFailure {
        Path path;
        try {
            path = Files.createTempFile(dir, "blockloop-bench-", ".img");
        } catch (IOException | RuntimeException e) {
            throw CommandFailure.runtime("bench: cannot create the default target in " + dir + ": " + e.getMessage());
        }
        Thread hook = new Thread(() -> deleteQuietly(path), "blockloop-bench-cleanup");
        Runtime.getRuntime().addShutdownHook(hook);
        DefaultTarget target = null;
        try {
            target = new DefaultTarget(path, hook, allocate(path));
            return target;
        } catch (NativeCallException e) {
            throw CommandFailure.runtime("bench: cannot create the " + ByteCount.format(SIZE) + " default target "
                    + path + ": " + e.getMessage() + " (give a FILE to run on)");
        } finally {
            if (target == null) {
                new DefaultTarget(path, hook, false).remove();
            }
        }
    }

    /** Sizes the file; true when preallocated, false when the file system cannot (then it is sparse). */
    private static boolean allocate(Path path) {
        int fd = FileIo.open(path.toString(), OpenFlags.O_RDWR | OpenFlags.O_CLOEXEC, 0);
        try {
            int ret = FileIo.fallocateOrErrno(fd, 0, 0, SIZE);
            if (ret == -Errno.EOPNOTSUPP) {
                FileIo.ftruncate(fd, SIZE);
                return false;
            }
            NativeCallException.check("fallocate", ret);
            return true;
        } finally {
            FileIo.closeOrErrno(fd);
        }
    }

    Path path() {
        return path;
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
