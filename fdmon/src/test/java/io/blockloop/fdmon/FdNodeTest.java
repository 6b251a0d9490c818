package io.blockloop.fdmon;

import io.blockloop.ffm.libc.Epoll;
import io.blockloop.ffm.libc.Poll;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What {@link FdNode} accepts and refuses on its own, before any monitor sees it. */
class FdNodeTest {

    @Test
    void theWatchableEventsAndZeroAreAccepted() {
        assertEquals(FdNode.READ_EVENTS | FdNode.WRITE_EVENTS,
                new FdNode(0, FdNode.READ_EVENTS | FdNode.WRITE_EVENTS, null).events());
        assertEquals(FdNode.WATCHABLE_EVENTS, new FdNode(0, FdNode.WATCHABLE_EVENTS, null).events());
        assertEquals(Poll.POLLPRI | Poll.POLLRDHUP, new FdNode(0, Poll.POLLPRI | Poll.POLLRDHUP, null).events());
        assertEquals(0, new FdNode(0, 0, null).events());
    }

    /**
     * Bits outside {@link FdNode#WATCHABLE_EVENTS} are refused, naming the value: the poll monitor cast the mask to
     * a short (dropping them) while epoll passed the whole int, so an EPOLLET made that fd edge-triggered on epoll
     * alone.
     */
    @Test
    void eventsOutsideTheWatchableBitsAreRefusedNamingTheValue() {
        int[] refused = {FdNode.READ_EVENTS | Epoll.EPOLLET, Epoll.EPOLLONESHOT, 1 << 16, Poll.POLLNVAL, -1};
        for (int events : refused) {
            IllegalArgumentException x = assertThrows(IllegalArgumentException.class,
                    () -> new FdNode(3, events, null), "events 0x" + Integer.toHexString(events));
            assertTrue(x.getMessage().contains("0x" + Integer.toHexString(events)), x.getMessage());
        }
    }

    @Test
    void aNegativeFdIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> new FdNode(-1, FdNode.READ_EVENTS, null));
    }
}
