package io.blockloop.fdmon;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Choosing a monitor by name, availability, and the AUTO fallback order. */
class FdMonitorSelectionTest {

    @Test
    void parsesTheFourNames() {
        assertEquals(FdMonitorKind.POLL, FdMonitorKind.parse("poll"));
        assertEquals(FdMonitorKind.EPOLL, FdMonitorKind.parse(" EPOLL "));
        assertEquals(FdMonitorKind.IO_URING, FdMonitorKind.parse("io_uring"));
        assertEquals(FdMonitorKind.IO_URING, FdMonitorKind.parse("io-uring"));
        assertEquals(FdMonitorKind.AUTO, FdMonitorKind.parse("auto"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> FdMonitorKind.parse("kqueue"));
        assertTrue(e.getMessage().contains("kqueue"));
    }

    @Test
    void everyMonitorIsAvailableOnTheTestMachine() {
        // Kernel 6.x with io_uring enabled: the CI machine must offer all three (a missing one is a failure).
        for (FdMonitorKind kind : FdMonitorKind.values()) {
            assertTrue(kind.availability().available(), kind + ": " + kind.availability().reason());
            assertNull(kind.availability().reason());
        }
    }

    @Test
    void explicitKindsOpenThatMonitor() {
        try (FdMonitor m = FdMonitor.open(FdMonitorKind.POLL)) {
            assertInstanceOf(PollFdMonitor.class, m);
            assertEquals("poll", m.name());
        }
        try (FdMonitor m = FdMonitor.open(FdMonitorKind.EPOLL)) {
            assertInstanceOf(EpollFdMonitor.class, m);
            assertEquals(FdMonitorKind.EPOLL, m.kind());
            assertEquals("poll", m.name(), "epoll starts on poll until 64 fds");
        }
        try (FdMonitor m = FdMonitor.open(FdMonitorKind.IO_URING)) {
            assertInstanceOf(IoUringFdMonitor.class, m);
            assertEquals("io_uring", m.name());
        }
    }

    @Test
    void autoPrefersIoUringWhenItIsAvailable() {
        try (FdMonitor m = FdMonitor.open(FdMonitorKind.AUTO)) {
            FdMonitorKind expected = IoUringFdMonitor.availability().available() ? FdMonitorKind.IO_URING
                    : FdMonitorKind.EPOLL;
            assertEquals(expected, m.kind());
        }
    }
}
