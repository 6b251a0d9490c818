package io.blockloop.ffm.libc;

import io.blockloop.ffm.errno.Errno;
import io.blockloop.ffm.errno.NativeCallException;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class EpollTest {
    @Test
    void packedEventLayoutIsTwelveBytes() {
        assertEquals(12, Epoll.EVENT_SIZE);
        assertEquals(4, Epoll.EVENT.byteOffset(java.lang.foreign.MemoryLayout.PathElement.groupElement("data")));
    }

    @Test
    void addModifyDeleteAndWait() {
        int epfd = Epoll.create(Epoll.EPOLL_CLOEXEC);
        try (EventFd a = EventFd.create(); EventFd b = EventFd.create(); Arena arena = Arena.ofConfined()) {
            MemorySegment events = arena.allocate(Epoll.EVENT_SIZE * 8);
            Epoll.ctl(epfd, Epoll.EPOLL_CTL_ADD, a.fd(), Epoll.EPOLLIN, 0x1122334455667788L);
            Epoll.ctl(epfd, Epoll.EPOLL_CTL_ADD, b.fd(), Epoll.EPOLLIN, 7);
            assertEquals(0, Epoll.waitOrErrno(epfd, events, 8, 0));

            a.signal();
            assertEquals(1, Epoll.waitOrErrno(epfd, events, 8, 1000));
            assertEquals(0x1122334455667788L, Epoll.data(events, 0), "the 64-bit data word survives the packed layout");
            assertEquals(Epoll.EPOLLIN, Epoll.events(events, 0) & Epoll.EPOLLIN);

            // Modify a to watch only POLLOUT-ish readiness it does not have for reading: it no longer reports IN.
            Epoll.ctl(epfd, Epoll.EPOLL_CTL_MOD, a.fd(), 0, 0x1122334455667788L);
            assertEquals(0, Epoll.pwait2OrErrno(epfd, events, 8, 0));

            b.signal();
            assertEquals(1, Epoll.pwait2OrErrno(epfd, events, 8, 1_000_000_000L));
            assertEquals(7, Epoll.data(events, 0));

            Epoll.ctl(epfd, Epoll.EPOLL_CTL_DEL, b.fd(), 0, 0);
            assertEquals(0, Epoll.pwait2OrErrno(epfd, events, 8, 100_000), "deleted fd no longer reported");
        } finally {
            FileIo.close(epfd);
        }
    }

    /**
     * A failed wait is repeated with errno capture (the first call captures nothing, so that it allocates nothing),
     * and answers the errno: no fd is {@code EBADF}, an fd that is no epoll instance {@code EINVAL}.
     */
    @Test
    void failedWaitsAnswerTheirErrno() {
        try (EventFd notEpoll = EventFd.create(); Arena arena = Arena.ofConfined()) {
            MemorySegment events = arena.allocate(Epoll.EVENT_SIZE * 8);
            assertEquals(-Errno.EBADF, Epoll.waitOrErrno(-1, events, 8, 1000));
            assertEquals(-Errno.EBADF, Epoll.pwait2OrErrno(-1, events, 8, 1_000_000_000L));
            assertEquals(-Errno.EINVAL, Epoll.waitOrErrno(notEpoll.fd(), events, 8, 1000));
            assertEquals(-Errno.EINVAL, Epoll.pwait2OrErrno(notEpoll.fd(), events, 8, -1));
        }
    }

    @Test
    void errorsNameTheOperationAndErrno() {
        int epfd = Epoll.create(Epoll.EPOLL_CLOEXEC);
        try (EventFd a = EventFd.create()) {
            NativeCallException e = assertThrows(NativeCallException.class,
                    () -> Epoll.ctl(epfd, Epoll.EPOLL_CTL_MOD, a.fd(), Epoll.EPOLLIN, 0));
            assertEquals("ENOENT", e.symbol());
            assertEquals(Errno.ENOENT, e.errno());
            Epoll.ctl(epfd, Epoll.EPOLL_CTL_ADD, a.fd(), Epoll.EPOLLIN, 0);
            e = assertThrows(NativeCallException.class,
                    () -> Epoll.ctl(epfd, Epoll.EPOLL_CTL_ADD, a.fd(), Epoll.EPOLLIN, 0));
            assertEquals("epoll_ctl(ADD): EEXIST (File exists): fd " + a.fd(), e.getMessage());
        } finally {
            FileIo.close(epfd);
        }
    }
}
