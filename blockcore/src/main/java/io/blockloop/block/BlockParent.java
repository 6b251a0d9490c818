package io.blockloop.block;

/**
 * The user of a {@link BlockChild} edge: a {@link BlockNode} (a format or filter over its child) or a
 * {@code BlockBackend} (the root user). QEMU's {@code BdrvChildClass}, reduced to what BlockLoop needs: a name
 * for messages and the three drain callbacks, through which a drained section of a node quiesces everything
 * above it.
 *
 * <p>Threads: the drain callbacks are called by the thread running the drain (the main loop); they must not poll
 * and must not change the graph. {@link #childDrainedPoll} may be called repeatedly while the drain polls.
 */
public interface BlockParent {
    /** A short description for messages: {@code "node 'raw0'"}, {@code "block backend 'bench'"}. */
    String parentDescription();

    /** The child behind {@code edge} entered a drained section: stop sending it new requests. Nestable. */
    default void childDrainedBegin(BlockChild edge) {
    }

    /** The child behind {@code edge} left its (outermost) drained section: requests may flow again. */
    default void childDrainedEnd(BlockChild edge) {
    }

    /** Whether this parent still has requests of its own that the drain must wait for. */
    default boolean childDrainedPoll(BlockChild edge) {
        return false;
    }
}
