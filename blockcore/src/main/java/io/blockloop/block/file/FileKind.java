package io.blockloop.block.file;

import io.blockloop.ffm.errno.NativeCallException;
import io.blockloop.ffm.libc.FileIo;
import io.blockloop.ffm.libc.FileStat;
import io.blockloop.ffm.libc.OpenFlags;

/**
 * The two kinds of file BlockLoop does I/O on, found before the file is opened for I/O.
 *
 * <p>Why before: opening for I/O can go wrong in ways that hide the real problem. A directory opened with
 * {@code O_DIRECT} fails with {@code EINVAL}, which reads as "the filesystem refuses O_DIRECT"; a FIFO opened
 * read-only blocks until some other process opens it for writing. {@link #of} looks through an {@code O_PATH}
 * descriptor instead, which neither blocks nor needs permissions. Callers still check the descriptor they open
 * for I/O ({@link #of(FileStat, String)}), since the path may name another file by then.
 *
 * <p>Stateless; any thread.
 */
public enum FileKind {
    REGULAR_FILE,
    BLOCK_DEVICE;

    /**
     * The kind of the file {@code path} names (symbolic links followed).
     *
     * @throws NativeCallException when the path does not resolve (message names the call, errno and path)
     * @throws Unsupported         when it is neither a regular file nor a block device
     */
    public static FileKind of(String path) {
        int fd = FileIo.open(path, OpenFlags.O_PATH | OpenFlags.O_CLOEXEC, 0);
        try {
            return of(FileIo.fstat(fd), path);
        } finally {
            FileIo.closeOrErrno(fd);
        }
    }

    /**
     * The kind {@code stat} describes.
     *
     * @throws Unsupported when it is neither a regular file nor a block device
     */
    public static FileKind of(FileStat stat, String path) {
        if (stat.isBlockDevice()) {
            return BLOCK_DEVICE;
        }
        if (stat.isRegularFile()) {
            return REGULAR_FILE;
        }
        throw new Unsupported(path);
    }

    /**
     * The path names a directory, FIFO, socket or character device. An {@link IllegalArgumentException}, as the
     * callers document; its own type lets a command line report it as a failure at run time, like a missing file,
     * rather than as a usage mistake.
     */
    public static final class Unsupported extends IllegalArgumentException {
        private static final long serialVersionUID = 1L;

        Unsupported(String path) {
            super("'" + path + "' is neither a regular file nor a block device");
        }
    }
}
