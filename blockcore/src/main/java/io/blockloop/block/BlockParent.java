package io.blockloop.block;

/**
 * The user of a {@link BlockChild} edge: a {@link BlockNode} (a format or filter over its child) or a
 * {@code BlockBackend} (the root user). QEMU's {@code BdrvChildClass}, reduced to what BlockLoop needs now.
 */
public interface BlockParent {
    /** A short description for messages: {@code "node 'raw0'"}, {@code "block backend 'bench'"}. */
    String parentDescription();
}
