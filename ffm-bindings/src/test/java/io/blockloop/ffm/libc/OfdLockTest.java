package io.blockloop.ffm.libc;

import io.blockloop.ffm.errno.Errno;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;

class OfdLockTest {
    @TempDir
    Path dir;

    @Test
    void twoOpenFileDescriptionsConflictInOneProcess() throws IOException {
        Path file = Files.write(dir.resolve("img"), new byte[4096]);
        int first = FileIo.open(file.toString(), OpenFlags.O_RDWR, 0);
        int second = FileIo.open(file.toString(), OpenFlags.O_RDWR, 0);
        try {
            assertEquals(0, Fcntl.setOfdLockOrErrno(first, Fcntl.F_WRLCK, 100, 1));
            assertEquals(Fcntl.F_WRLCK, Fcntl.conflictingOfdLock(second, Fcntl.F_RDLCK, 100, 1));
            assertEquals(-Errno.EAGAIN, Fcntl.setOfdLockOrErrno(second, Fcntl.F_RDLCK, 100, 1));
            assertEquals(0, Fcntl.setOfdLockOrErrno(second, Fcntl.F_RDLCK, 101, 1), "other bytes are free");
            assertEquals(0, Fcntl.setOfdLockOrErrno(first, Fcntl.F_UNLCK, 100, 1));
            assertEquals(0, Fcntl.setOfdLockOrErrno(second, Fcntl.F_RDLCK, 100, 1));
        } finally {
            FileIo.close(first);
            FileIo.close(second);
        }
    }
}
