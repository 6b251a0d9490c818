package io.blockloop.ffm.libc;

import io.blockloop.ffm.memory.SegmentBounds;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;

/**
 * {@code struct iovec { void *iov_base; size_t iov_len; }} (16 bytes), the element of vectored I/O arrays.
 *
 * <p>Thread safety: stateless; any thread. The array belongs to the caller, whose rules say who writes it.
 */
public final class IoVec {
    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            ValueLayout.ADDRESS.withName("iov_base"),
            ValueLayout.JAVA_LONG.withName("iov_len"));
    public static final long SIZE = LAYOUT.byteSize();

    private IoVec() {
    }

    /**
     * Writes element {@code index} of the iovec array {@code array}. The array keeps only the address, so a
     * read-only {@code buffer} ({@link MemorySegment#asReadOnly()}) is accepted here and the kernel writes into it
     * if the array goes to a read ({@code preadv2}, {@code IORING_OP_READV}, an aio {@code PREADV}): this method
     * cannot know the direction, and the vectored calls see only the array. Do not put read-only segments into an
     * array meant for reads.
     *
     * @throws IllegalStateException when {@code buffer}'s arena is closed: its address may already be another
     *                               allocation's (a buffer confined to another thread is accepted: the array may go
     *                               to a request that thread waits for)
     */
    public static void set(MemorySegment array, int index, MemorySegment buffer) {
        SegmentBounds.checkAlive(buffer, false, "IoVec.set");
        long at = index * SIZE;
        array.set(ValueLayout.ADDRESS, at, buffer);
        array.set(ValueLayout.JAVA_LONG, at + 8, buffer.byteSize());
    }

    /** Writes element {@code index} as a raw address and length. */
    public static void set(MemorySegment array, int index, long address, long length) {
        long at = index * SIZE;
        array.set(ValueLayout.JAVA_LONG, at, address);
        array.set(ValueLayout.JAVA_LONG, at + 8, length);
    }
}
