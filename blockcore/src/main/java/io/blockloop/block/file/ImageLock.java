package io.blockloop.block.file;

import io.blockloop.ffm.errno.Errno;
import io.blockloop.ffm.libc.Fcntl;

/**
 * Image locking with open-file-description locks, in QEMU's byte layout ({@code file-posix.c}), so BlockLoop and
 * QEMU processes see each other's locks: for every permission bit {@code i} a process holds, it keeps a read lock
 * on byte {@code 100 + i}; for every permission it does <em>not</em> share with others, a read lock on byte
 * {@code 200 + i}. A newcomer conflicts when it wants a permission someone refuses to share (byte {@code 200 + i}
 * is locked), or refuses to share one someone holds (byte {@code 100 + i} is locked); both are tested with
 * {@code F_OFD_GETLK} for a write lock, which sees only the locks of other open file descriptions.
 *
 * <p>Permission bits are QEMU's {@code BLK_PERM_*}: consistent read (0), write (1), write unchanged (2), resize
 * (3). A writer holds read+write and shares read and write-unchanged; a reader holds read and shares everything
 * but write; with force-share a reader shares everything (it may see inconsistent data).
 *
 * <p>Threads: called by the thread that opens or closes the file (main loop). The locks live with the fd's open
 * file description and vanish when it is closed.
 */
final class ImageLock {
    static final int PERM_BASE = 100;
    static final int SHARED_BASE = 200;
    static final int CONSISTENT_READ = 0x1;
    static final int WRITE = 0x2;
    static final int WRITE_UNCHANGED = 0x4;
    static final int RESIZE = 0x8;
    static final int ALL = 0xf;
    private static final String[] NAMES = {"consistent read", "write", "write unchanged", "resize"};

    private ImageLock() {
    }

    /**
     * Takes the locks of a user that wants {@code perm} and shares {@code shared} on the image behind {@code fd},
     * and checks that no other user conflicts.
     *
     * @throws IllegalStateException {@code Failed to get "write" lock: is another process using the image PATH?}
     *                               (or {@code shared "write"} when it is our refusal to share that conflicts)
     */
    static void acquire(int fd, String path, int perm, int shared) {
        for (int i = 0; i < NAMES.length; i++) {
            int bit = 1 << i;
            if ((perm & bit) != 0) {
                lock(fd, path, PERM_BASE + i);
            }
            if ((shared & bit) == 0) {
                lock(fd, path, SHARED_BASE + i);
            }
        }
        for (int i = 0; i < NAMES.length; i++) {
            int bit = 1 << i;
            if ((perm & bit) != 0 && Fcntl.conflictingOfdLock(fd, Fcntl.F_WRLCK, SHARED_BASE + i, 1) != Fcntl.F_UNLCK) {
                throw conflict(path, "\"" + NAMES[i] + "\"");
            }
            if ((shared & bit) == 0 && Fcntl.conflictingOfdLock(fd, Fcntl.F_WRLCK, PERM_BASE + i, 1) != Fcntl.F_UNLCK) {
                throw conflict(path, "shared \"" + NAMES[i] + "\"");
            }
        }
    }

    /** The permissions of a writer ({@code readOnly == false}) or reader, and what it shares. */
    static int[] permissions(boolean readOnly, boolean forceShare) {
        if (!readOnly) {
            return new int[]{CONSISTENT_READ | WRITE, CONSISTENT_READ | WRITE_UNCHANGED};
        }
        return new int[]{CONSISTENT_READ, forceShare ? ALL : ALL & ~WRITE};
    }

    private static void lock(int fd, String path, int offset) {
        int ret = Fcntl.setOfdLockOrErrno(fd, Fcntl.F_RDLCK, offset, 1);
        if (ret == -Errno.EAGAIN || ret == -Errno.EACCES) {
            throw conflict(path, "byte " + offset);
        }
        if (ret < 0) {
            throw new IllegalStateException("Failed to lock byte " + offset + " of " + path + ": "
                    + Errno.text(-ret) + " (" + Errno.symbol(-ret) + ")");
        }
    }

    private static IllegalStateException conflict(String path, String what) {
        return new IllegalStateException("Failed to get " + what + " lock: is another process using the image "
                + path + "?");
    }
}
