package io.blockloop.block;

import java.util.Objects;

/**
 * An edge of the block graph (QEMU's {@code BdrvChild}): {@link #parent()} uses {@link #node()} under the role
 * {@link #name()} ({@code "file"} for a format's storage, {@code "root"} for a backend's node).
 *
 * <p>Threads: the edge is created and re-pointed by global-state code (main loop). The node reference is
 * volatile so that I/O code in any thread reads the current target; graph changes happen only while the
 * affected nodes are drained, so no request crosses an edge while it changes.
 */
public final class BlockChild {
    private final String name;
    /** Null only between {@link BlockNode#attachForNewParent} and the parent node's construction. */
    private BlockParent parent;
    /** {@link #setNode}'s volatile store (main loop) pairs with {@link #node()}'s load on any thread. */
    private volatile BlockNode node;
    /**
     * Whether this edge holds its parent quiesced for its drained node (QEMU's {@code quiesced_parent}). Main loop.
     * A node passes its drain to each parent once, when its counter leaves 0; attaching, re-pointing and detaching
     * an edge had instead begun or ended the parent's drain once per section the node was in, so a node drained
     * twice left a new parent quiesced for good, or a detached one's counter negative.
     */
    private boolean quiescedParent;

    BlockChild(String name, BlockParent parent, BlockNode node) {
        this.name = Objects.requireNonNull(name, "name");
        this.parent = parent;
        this.node = Objects.requireNonNull(node, "node");
    }

    void adoptBy(BlockNode newParent) {
        if (parent != null) {
            throw new IllegalStateException("edge '" + name + "' already belongs to " + parent.parentDescription());
        }
        parent = newParent;
    }

    /** The role of the edge in its parent. */
    public String name() {
        return name;
    }

    public BlockParent parent() {
        return parent;
    }

    /** The node the edge points to. Any thread (volatile). */
    public BlockNode node() {
        return node;
    }

    void setNode(BlockNode node) {
        this.node = Objects.requireNonNull(node, "node");
    }

    /** Quiesces the parent for this edge's drained node, unless the edge does already. Main loop. */
    void quiesceParent() {
        if (!quiescedParent && parent != null) {
            quiescedParent = true;
            parent.childDrainedBegin(this);
        }
    }

    /** Holds the parent quiesced exactly while this edge's node is drained. Main loop. */
    void followDrain() {
        if (node.quiesceCounter() > 0) {
            quiesceParent();
        } else {
            unquiesceParent();
        }
    }

    /** Releases what {@link #quiesceParent()} took, if anything. Main loop. */
    void unquiesceParent() {
        if (quiescedParent) {
            quiescedParent = false;
            parent.childDrainedEnd(this);
        }
    }

    @Override
    public String toString() {
        return (parent == null ? "(node being opened)" : parent.parentDescription()) + " --" + name + "--> " + node.name();
    }
}
