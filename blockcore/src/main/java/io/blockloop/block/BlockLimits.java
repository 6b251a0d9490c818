package io.blockloop.block;

/**
 * What a node's requests must respect (QEMU's {@code BlockLimits}, the part BlockLoop uses).
 *
 * <p>Immutable value; any thread.
 *
 * @param requestAlignment offsets and lengths reaching the driver are multiples of this (a power of two); the
 *                         generic request path pads other requests with read-modify-write
 * @param memoryAlignment  buffer addresses (and iovec lengths) reaching the driver must be multiples of this,
 *                         or the driver bounces them (a power of two)
 * @param maxTransfer      the largest byte count of one driver request; longer requests are split
 */
public record BlockLimits(int requestAlignment, int memoryAlignment, long maxTransfer) {
    /** No constraint: byte-granular requests and buffers, transfers up to 1 GiB each. */
    public static final BlockLimits NONE = new BlockLimits(1, 1, 1L << 30);

    public BlockLimits {
        if (Integer.bitCount(requestAlignment) != 1 || Integer.bitCount(memoryAlignment) != 1) {
            throw new IllegalArgumentException("alignments must be powers of two: request " + requestAlignment
                    + ", memory " + memoryAlignment);
        }
        if (maxTransfer < requestAlignment) {
            throw new IllegalArgumentException("max transfer " + maxTransfer + " below request alignment "
                    + requestAlignment);
        }
    }

    /**
     * These limits for a node that passes its requests down to a child: request alignment 1, the rest unchanged. The
     * child, or the node below it whose storage needs the alignment, pads them, and its tracked requests serialise
     * the read-modify-write against every parent's requests there (QEMU pads only where a driver asks for it).
     * Padded above, a cycle was serialised against that node's own requests only, and wrote back a block over
     * another parent's write to it.
     */
    public BlockLimits passedDown() {
        return requestAlignment == 1 ? this : new BlockLimits(1, memoryAlignment, maxTransfer);
    }

    /** The strictest of both: what a parent must respect to satisfy this node and {@code other}. */
    public BlockLimits merge(BlockLimits other) {
        return new BlockLimits(Math.max(requestAlignment, other.requestAlignment),
                Math.max(memoryAlignment, other.memoryAlignment), Math.min(maxTransfer, other.maxTransfer));
    }
}
