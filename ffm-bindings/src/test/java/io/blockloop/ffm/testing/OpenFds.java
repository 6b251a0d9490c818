package io.blockloop.ffm.testing;

import java.io.File;

/** Counts this process's open file descriptors (entries of {@code /proc/self/fd}) for leak checks. */
public final class OpenFds {
    private OpenFds() {
    }

    public static int count() {
        String[] fds = new File("/proc/self/fd").list();
        if (fds == null) {
            throw new IllegalStateException("/proc/self/fd is not readable");
        }
        return fds.length;
    }
}
