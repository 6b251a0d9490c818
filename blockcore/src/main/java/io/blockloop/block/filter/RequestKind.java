package io.blockloop.block.filter;

/**
 * The operation a block request performs, as filters tell them apart (QEMU's {@code BlkdebugIOType} minus
 * block-status). Immutable; any thread.
 */
public enum RequestKind {
    READ("read"),
    WRITE("write"),
    FLUSH("flush"),
    DISCARD("discard"),
    WRITE_ZEROES("write-zeroes");

    private final String label;

    RequestKind(String label) {
        this.label = label;
    }

    /** The name used in messages and {@code describe()} lines: {@code read}, {@code write-zeroes}, ... */
    public String label() {
        return label;
    }
}
