package io.blockloop.ffm.memory;

import java.lang.foreign.MemorySegment;

/**
 * Checks that a length or an element count handed to a system call next to a {@link MemorySegment} stays inside
 * the segment. The JDK checks the segment (alive, native, this thread's) but not what the kernel will do with the
 * length beside it: {@code read(fd, 16-byte segment, 4096)} wrote 4080 bytes past it and crashed the JVM, and so
 * did an {@code epoll_wait} told of more events than its array holds. Every binding method that takes a segment and
 * a length or count calls one of these first; the raw-address forms stay unchecked, as documented. Methods whose
 * segment the kernel writes into (reads, event arrays) also call {@link #checkWritable}: the JDK passes a read-only
 * segment to a downcall like any other, and the kernel wrote into {@code asReadOnly()} views.
 *
 * <p>Stateless; any thread.
 */
public final class SegmentBounds {
    private SegmentBounds() {
    }

    /**
     * Throws {@link IllegalArgumentException} unless {@code 0 <= length <= segment.byteSize()}; {@code what} names
     * the call.
     */
    public static void checkLength(MemorySegment segment, long length, String what) {
        if (length < 0 || length > segment.byteSize()) {
            throw new IllegalArgumentException(what + ": length " + length + " outside the segment's "
                    + segment.byteSize() + " bytes");
        }
    }

    /**
     * Throws {@link IllegalArgumentException} unless {@code count} elements of {@code elementSize} bytes fit in
     * {@code segment} ({@code count >= 0}); {@code what} names the call.
     */
    public static void checkElements(MemorySegment segment, long count, long elementSize, String what) {
        if (count < 0 || count > segment.byteSize() / elementSize) {
            throw new IllegalArgumentException(what + ": " + count + " elements of " + elementSize
                    + " bytes do not fit in the segment's " + segment.byteSize() + " bytes");
        }
    }

    /**
     * For a binding that keeps only {@code segment}'s address for the kernel to use later (an SQE, an iovec), where
     * the JDK checks nothing: throws {@link IllegalStateException} when the segment's arena is closed (its memory may
     * already be another allocation's: an SQE prepared with a freed segment had the kernel write into a live segment
     * of another arena, session 26), and {@link WrongThreadException} when {@code confinedToo} and the segment is
     * confined to another thread, as a downcall would. {@code what} names the call.
     */
    public static void checkAlive(MemorySegment segment, boolean confinedToo, String what) {
        if (!segment.scope().isAlive()) {
            throw new IllegalStateException(what + ": its arena is already closed");
        }
        if (confinedToo && !segment.isAccessibleBy(Thread.currentThread())) {
            throw new WrongThreadException(what + ": the segment is confined to another thread");
        }
    }

    /**
     * Throws {@link IllegalArgumentException} when {@code segment} is read-only ({@link MemorySegment#isReadOnly()}):
     * the kernel is about to write into it. {@code what} names the call.
     */
    public static void checkWritable(MemorySegment segment, String what) {
        if (segment.isReadOnly()) {
            throw new IllegalArgumentException(what + ": the kernel writes into a read-only segment of "
                    + segment.byteSize() + " bytes");
        }
    }
}
