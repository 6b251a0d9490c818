package io.blockloop.ffm.libc;

import io.blockloop.ffm.errno.Errno;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PipePollTest {
    @Test
    void pollSeesWritableThenReadablePipe() {
        try (Pipe pipe = Pipe.create(OpenFlags.O_NONBLOCK | OpenFlags.O_CLOEXEC); Arena arena = Arena.ofConfined()) {
            MemorySegment fds = arena.allocate(Poll.POLLFD_SIZE * 2);
            Poll.set(fds, 0, pipe.readFd(), Poll.POLLIN);
            Poll.set(fds, 1, pipe.writeFd(), Poll.POLLOUT);
            assertEquals(1, Poll.poll(fds, 2, 0), "only the write end is ready");
            assertEquals(0, Poll.revents(fds, 0));
            assertTrue((Poll.revents(fds, 1) & Poll.POLLOUT) != 0);

            MemorySegment data = arena.allocateFrom("x");
            assertEquals(1, FileIo.writeOrErrno(pipe.writeFd(), data, 1));
            assertEquals(2, Poll.ppoll(fds, 2, 1_000_000_000L));
            assertTrue((Poll.revents(fds, 0) & Poll.POLLIN) != 0);

            MemorySegment in = arena.allocate(8);
            assertEquals(1, FileIo.readOrErrno(pipe.readFd(), in, 8));
            assertEquals('x', in.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 0));
            assertEquals(-Errno.EAGAIN, FileIo.readOrErrno(pipe.readFd(), in, 8), "empty non-blocking pipe");
        }
    }

    @Test
    void ppollTimesOutWithNanosecondTimeout() {
        try (Pipe pipe = Pipe.create(OpenFlags.O_CLOEXEC); Arena arena = Arena.ofConfined()) {
            MemorySegment fds = arena.allocate(Poll.POLLFD_SIZE);
            Poll.set(fds, 0, pipe.readFd(), Poll.POLLIN);
            assertEquals(0, Poll.ppoll(fds, 1, 200_000), "200 us with nothing to read");
        }
    }

    @Test
    void pollReportsAClosedFdAsInvalid() {
        try (Arena arena = Arena.ofConfined()) {
            Pipe pipe = Pipe.create(OpenFlags.O_CLOEXEC);
            int fd = pipe.readFd();
            pipe.close();
            MemorySegment fds = arena.allocate(Poll.POLLFD_SIZE);
            Poll.set(fds, 0, fd, Poll.POLLIN);
            assertEquals(1, Poll.ppoll(fds, 1, 0));
            assertEquals(Poll.POLLNVAL, Poll.revents(fds, 0));
        }
    }

    /**
     * A failed ppoll is repeated with errno capture (the first call captures nothing, so that it allocates nothing):
     * more fds than {@code RLIMIT_NOFILE} allows is {@code EINVAL} on every call, and the errno comes back.
     */
    @Test
    void aFailedPpollAnswersItsErrno() throws Exception {
        long limit = openFilesLimit();
        if (limit > 1 << 24) {
            throw new AssertionError("RLIMIT_NOFILE " + limit + ": too many fds for a pollfd array to exceed it");
        }
        int count = (int) limit + 1;
        try (Pipe pipe = Pipe.create(OpenFlags.O_CLOEXEC); Arena arena = Arena.ofConfined()) {
            MemorySegment fds = arena.allocate(Poll.POLLFD_SIZE * count);
            for (int i = 0; i < count; i++) {
                Poll.set(fds, i, -1, (short) 0); // a negative fd is ignored, but the count is still checked
            }
            Poll.set(fds, 0, pipe.readFd(), Poll.POLLIN);
            assertEquals(-Errno.EINVAL, Poll.ppollOrErrno(fds, count, 1_000_000_000L), count + " fds");
            assertEquals(0, Poll.ppollOrErrno(fds, 1, 0), "the same array within the limit");
        }
    }

    /** The soft {@code RLIMIT_NOFILE} of this process ({@code /proc/self/limits}, "Max open files"). */
    private static long openFilesLimit() throws java.io.IOException {
        for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/self/limits"))) {
            if (line.startsWith("Max open files")) {
                return Long.parseLong(line.substring("Max open files".length()).trim().split("\\s+")[0]);
            }
        }
        throw new AssertionError("no \"Max open files\" in /proc/self/limits");
    }
}
