package io.blockloop.ffm.libc;

import io.blockloop.ffm.errno.Errno;
import io.blockloop.ffm.testing.OpenFds;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class EventFdTest {
    /** After close the number may be another file's: signal, add and drain refuse instead of touching it. */
    @Test
    void useAfterCloseIsRefused() {
        EventFd e = EventFd.create();
        e.close();
        e.close(); // idempotent
        for (Runnable call : new Runnable[]{e::signal, () -> e.add(5), e::drain}) {
            IllegalStateException x = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class,
                    call::run);
            org.junit.jupiter.api.Assertions.assertTrue(x.getMessage().contains("is closed"), x.getMessage());
        }
    }

    @Test
    void signalsAddUpAndDrainResetsTheCounter() {
        try (EventFd e = EventFd.create()) {
            assertEquals(0, e.drain(), "a fresh non-blocking eventfd reads as empty");
            e.signal();
            e.add(41);
            assertEquals(42, e.drain());
            assertEquals(0, e.drain());
        }
    }

    @Test
    void theRawAddressReadReportsErrnoAndReadsTheCounter() {
        try (EventFd e = EventFd.create(); Arena arena = Arena.ofConfined()) {
            MemorySegment value = arena.allocate(8, 8);
            assertEquals(-Errno.EAGAIN, FileIo.readOrErrno(e.fd(), value.address(), 8),
                    "an empty non-blocking eventfd: EAGAIN through the repeat with errno capture");
            e.add(7);
            assertEquals(8, FileIo.readOrErrno(e.fd(), value.address(), 8));
            assertEquals(7, value.get(JAVA_LONG, 0));
            assertEquals(-Errno.EINVAL, FileIo.readOrErrno(e.fd(), value.address(), 4),
                    "an eventfd refuses reads shorter than 8 bytes");
        }
    }

    @Test
    void signalMakesTheFdReadableForPoll() {
        try (EventFd e = EventFd.create(); Arena arena = Arena.ofConfined()) {
            MemorySegment fds = arena.allocate(Poll.POLLFD_SIZE);
            Poll.set(fds, 0, e.fd(), Poll.POLLIN);
            assertEquals(0, Poll.ppoll(fds, 1, 0), "nothing signalled yet");
            Thread t = Thread.ofPlatform().start(e::signal);
            assertEquals(1, Poll.ppoll(fds, 1, 10_000_000_000L));
            assertTrue((Poll.revents(fds, 0) & Poll.POLLIN) != 0);
            assertEquals(1, e.drain());
            joinQuietly(t);
        }
    }

    @Test
    void closeReleasesTheFd() {
        int before = OpenFds.count();
        for (int i = 0; i < 100; i++) {
            EventFd.create().close();
        }
        assertEquals(before, OpenFds.count());
    }

    private static void joinQuietly(Thread t) {
        try {
            t.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** drain() resets a semaphore eventfd too, where each read takes 1 (it returned 1 and left the rest). */
    @Test
    void drainEmptiesASemaphoreEventFd() {
        try (EventFd efd = EventFd.create(5, EventFd.EFD_SEMAPHORE | EventFd.EFD_NONBLOCK | EventFd.EFD_CLOEXEC)) {
            assertEquals(5, efd.drain());
            assertEquals(0, efd.drain());
            efd.add(3);
            assertEquals(3, efd.drain());
        }
    }
}
