package io.blockloop.block;

import io.blockloop.ffm.errno.Errno;
import io.blockloop.ffm.memory.ZeroFill;

import java.util.ArrayDeque;

/**
 * Read-modify-write for requests that are not multiples of a node's request alignment (QEMU's
 * {@code bdrv_pad_request} and {@code bdrv_padding_rmw_read}), and the generic write-zeroes path.
 *
 * <p>A padded request covers the aligned range around the caller's: reads read it into an aligned bounce buffer
 * and copy the caller's part out; writes first read the partial head and tail blocks (in one request when the
 * range holds nothing else, side by side otherwise), copy the caller's data in between and write the whole range
 * back. Writes are tracked as serialising for the aligned range, so no overlapping request (aligned or not) runs
 * between their read and their write. The bounce buffers come from {@link BounceBuffers}, which reuses them; the
 * write-zeroes fallback zeroes the one it takes.
 *
 * <p>Threads: the node's home thread, inside the coroutine of the request (the same contract as
 * {@link BlockNode}'s request path, which is the only caller).
 */
final class RequestPadding {
    /** Largest zeroed buffer the write-zeroes fallback writes at a time (QEMU caps its bounce at 16 MiB). */
    private static final long MAX_ZERO_BUFFER = 1L << 20;

    private final BlockNode node;
    /**
     * {@link ForkedRead}s no request uses now, for the next write that forks one: as many as such writes have
     * been in flight at once on this node. The node's home thread.
     */
    private final ArrayDeque<ForkedRead> idleForks = new ArrayDeque<>();

    RequestPadding(BlockNode node) {
        this.node = node;
    }

    int read(long offset, long bytes, IoVector qiov, int flags) {
        long align = node.limits().requestAlignment();
        long start = offset & -align;
        long end = roundUp(offset + bytes, align);
        TrackedRequest req = node.tracked().begin(start, end - start, false);
        try (BounceBuffers.Buffer bounce = BounceBuffers.acquire(end - start, memoryAlignment())) {
            node.tracked().waitForConflicts(req);
            int ret = node.alignedRead(start, end - start, bounce.vector(), flags);
            if (ret == 0) {
                qiov.copyFrom(bounce.memory(), offset - start, 0, bytes);
            }
            return ret;
        } finally {
            node.tracked().end(req);
        }
    }

    int write(long offset, long bytes, IoVector qiov, int flags) {
        long align = node.limits().requestAlignment();
        long start = offset & -align;
        long end = roundUp(offset + bytes, align);
        TrackedRequest req = node.tracked().begin(start, end - start, true);
        try (BounceBuffers.Buffer bounce = BounceBuffers.acquire(end - start, memoryAlignment())) {
            node.tracked().waitForConflicts(req);
            int ret = readPartialBlocks(bounce, start, end, offset, offset + bytes, align);
            if (ret != 0) {
                return ret;
            }
            qiov.copyTo(0, bounce.memory(), offset - start, bytes);
            return node.alignedWrite(start, end - start, bounce.vector(), flags);
        } finally {
            node.tracked().end(req);
        }
    }

    int writeZeroes(long offset, long bytes, int flags) {
        long align = node.limits().requestAlignment();
        long end = offset + bytes;
        if ((flags & RequestFlags.NO_FALLBACK) != 0 && ((offset | end) & (align - 1)) != 0) {
            // A partial block is zeroed by writing a buffer: the fallback the caller ruled out (QEMU answers
            // ENOTSUP here too, and leaves the data alone; the padded writes below zeroed it anyway).
            return -Errno.EOPNOTSUPP;
        }
        long middleStart = roundUp(offset, align);
        long middleEnd = end & -align;
        if (middleStart >= middleEnd) {
            // Everything is inside one or two partial blocks: a padded write of zeroes.
            return writeZeroBuffer(offset, bytes, flags);
        }
        int ret = 0;
        if (offset < middleStart) {
            ret = writeZeroBuffer(offset, middleStart - offset, flags);
        }
        if (ret == 0) {
            ret = alignedZeroes(middleStart, middleEnd - middleStart, flags);
        }
        if (ret == 0 && middleEnd < end) {
            ret = writeZeroBuffer(middleEnd, end - middleEnd, flags);
        }
        return ret;
    }

    private int alignedZeroes(long offset, long bytes, int flags) {
        TrackedRequest req = node.tracked().begin(offset, bytes, false);
        try {
            node.tracked().waitForConflicts(req);
            int ret = node.alignedWriteZeroes(offset, bytes, flags);
            if (ret != -Errno.EOPNOTSUPP) {
                return ret;
            }
            if ((flags & RequestFlags.NO_FALLBACK) != 0) {
                return ret;
            }
        } finally {
            node.tracked().end(req);
        }
        return writeZeroBuffer(offset, bytes, flags & ~(RequestFlags.MAY_UNMAP | RequestFlags.NO_FALLBACK));
    }

    /** Writes zeroes from a buffer, chunk by chunk, through the node's (padding) write path. */
    private int writeZeroBuffer(long offset, long bytes, int flags) {
        long size = Math.min(bytes, MAX_ZERO_BUFFER);
        try (BounceBuffers.Buffer buffer = BounceBuffers.acquire(roundUp(size, node.limits().requestAlignment()),
                memoryAlignment())) {
            ZeroFill.zero(buffer.memory()); // a pooled buffer holds what an earlier request left in it
            for (long done = 0; done < bytes; ) {
                long n = Math.min(size, bytes - done);
                int ret = node.coPwritev(offset + done, n, buffer.headVector(n), flags & RequestFlags.FUA);
                if (ret != 0) {
                    return ret;
                }
                done += n;
            }
            return 0;
        }
    }

    /**
     * Reads the blocks that the write covers only partly: the first if the write starts inside it, and the last.
     * When those are all the padded range holds (one block, or two), one read fetches them both, as QEMU's
     * {@code merge_reads} does. When whole blocks lie between them, the tail block is read in a second coroutine
     * ({@link ForkedRead}) while this one reads the head block, so the two are in flight together. Either way a
     * misaligned write waits for one device round trip before it writes, not two.
     */
    private int readPartialBlocks(BounceBuffers.Buffer bounce, long start, long end, long writeStart, long writeEnd,
                                  long align) {
        boolean partialHead = writeStart != start;
        boolean partialTail = writeEnd != end;
        if (partialHead && partialTail) {
            return end - start <= 2 * align ? node.alignedRead(start, end - start, bounce.vector(), 0)
                    : readHeadAndTailTogether(bounce, start, end, align);
        }
        if (partialHead) {
            return node.alignedRead(start, align, bounce.headVector(align), 0);
        }
        if (partialTail) {
            return node.alignedRead(end - align, align, bounce.tailVector(align), 0);
        }
        return 0;
    }

    private int readHeadAndTailTogether(BounceBuffers.Buffer bounce, long start, long end, long align) {
        ForkedRead tail = idleForks.pollFirst();
        if (tail == null) {
            tail = new ForkedRead();
        }
        tail.start(node, end - align, align, bounce.tailVector(align));
        int head;
        int tailResult;
        try {
            head = node.alignedRead(start, align, bounce.headVector(align), 0);
        } finally {
            // Also when the head read threw: the tail read fills the bounce buffer, which the caller releases.
            tailResult = tail.join();
            idleForks.addFirst(tail);
        }
        return head != 0 ? head : tailResult;
    }

    private long memoryAlignment() {
        return Math.max(node.limits().memoryAlignment(), node.limits().requestAlignment());
    }

    private static long roundUp(long value, long align) {
        return (value + align - 1) & -align;
    }
}
