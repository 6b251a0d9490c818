package io.blockloop.ffm.libaio;

import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * {@code struct io_event { u64 data; u64 obj; s64 res; s64 res2; }} (32 bytes): one completion, as
 * {@code io_getevents} returns it and as the kernel's {@link AioRing} stores it.
 *
 * <p>Thread safety: stateless; any thread. An event of the {@link AioRing} may be read only after the acquire
 * load of its {@code tail} (see there).
 */
public final class IoEvent {
    public static final long SIZE = 32;

    private IoEvent() {
    }

    /** The iocb's {@code aio_data}. */
    public static long data(MemorySegment events, long index) {
        return events.get(JAVA_LONG, index * SIZE);
    }

    /** The address of the completed iocb. */
    public static long obj(MemorySegment events, long index) {
        return events.get(JAVA_LONG, index * SIZE + 8);
    }

    /** Bytes transferred, or a negative errno. */
    public static long res(MemorySegment events, long index) {
        return events.get(JAVA_LONG, index * SIZE + 16);
    }
}
