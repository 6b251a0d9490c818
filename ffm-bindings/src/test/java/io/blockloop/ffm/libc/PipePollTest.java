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
}
