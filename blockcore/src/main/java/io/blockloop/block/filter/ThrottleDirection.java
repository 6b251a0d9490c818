package io.blockloop.block.filter;

/**
 * The two directions a {@link ThrottleDriver} limits and queues separately (QEMU's {@code ThrottleDirection}):
 * reads, and writes (which include discards and write-zeroes). Immutable; any thread.
 */
public enum ThrottleDirection {
    READ,
    WRITE;

    /** The direction that is not this one. */
    ThrottleDirection other() {
        return this == READ ? WRITE : READ;
    }
}
