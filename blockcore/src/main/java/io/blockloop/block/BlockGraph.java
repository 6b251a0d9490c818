package io.blockloop.block;

import io.blockloop.aio.AioContext;
import io.blockloop.aio.role.GlobalStateCode;
import io.blockloop.block.graph.DrainAll;
import io.blockloop.block.graph.GraphLock;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.function.Function;

/**
 * Changes to the block graph while I/O runs (QEMU's {@code bdrv_replace_node}, {@code bdrv_append},
 * {@code bdrv_drop_filter}, {@code bdrv_try_change_aio_context}). Each change drains the nodes it touches and
 * holds the graph write lock ({@link GraphLock#global()}) while it re-points edges, so no request is inside the
 * affected part of the graph and no coroutine reads an edge while it changes; requests that arrive meanwhile wait
 * in their backends and continue on the new graph.
 *
 * <p>The write lock quiesces every node first ({@link BlockNode#drainAllBeginNoPoll()}, installed here as the
 * lock's {@link DrainAll}), then waits for the readers (requests inside the graph) to leave.
 *
 * <p>Threads: global-state code; every method runs on the main loop's thread, outside coroutines.
 */
public final class BlockGraph {
    private static final DrainAll QUIESCE_ALL = new DrainAll() {
        @Override
        public void beginNoPoll() {
            BlockNode.drainAllBeginNoPoll();
        }

        @Override
        public void end() {
            BlockNode.drainAllEnd();
        }

        @Override
        public String toString() {
            return "BlockNode.drainAll";
        }
    };

    private BlockGraph() {
    }

    /** Takes the graph write lock with the block layer's drain-all installed. Main loop. */
    @GlobalStateCode
    public static void writeLock() {
        GraphLock lock = GraphLock.global();
        lock.setDrainAll(QUIESCE_ALL);
        lock.writeLock();
    }

    /** Releases the graph write lock. Main loop. */
    @GlobalStateCode
    public static void writeUnlock() {
        GraphLock.global().writeUnlock();
    }

    /**
     * Makes every parent of {@code old} use {@code replacement} instead (QEMU's {@code bdrv_replace_node}),
     * except edges from {@code replacement} itself (a filter inserted above {@code old} keeps its child).
     * Main loop.
     */
    @GlobalStateCode
    public static void replaceNode(BlockNode old, BlockNode replacement) {
        old.drainedBegin();
        replacement.drainedBegin();
        writeLock();
        try {
            repointParents(old, replacement);
        } finally {
            writeUnlock();
            replacement.drainedEnd();
            old.drainedEnd();
        }
    }

    /**
     * Inserts a filter above {@code below} (QEMU's {@code bdrv_append}): the filter's driver is opened over a new
     * edge to {@code below}, and every former parent of {@code below} then uses the filter. Returns the filter
     * node, living in {@code below}'s context. Main loop.
     */
    @GlobalStateCode
    public static BlockNode insertFilter(BlockNode below, String name, Function<BlockChild, BlockDriver> openFilter) {
        below.drainedBegin();
        try {
            writeLock();
            try {
                BlockChild edge = BlockNode.attachForNewParent("file", below);
                BlockNode filter;
                try {
                    filter = new BlockNode(name, openFilter.apply(edge), below.context());
                } catch (RuntimeException | Error e) {
                    BlockNode.detach(edge);
                    throw e;
                }
                repointParents(below, filter);
                return filter;
            } finally {
                writeUnlock();
            }
        } finally {
            below.drainedEnd();
        }
    }

    /**
     * Removes a filter inserted by {@link #insertFilter} (QEMU's {@code bdrv_drop_filter}): its parents use its
     * child again, and the filter node is closed, which detaches it from that child. Main loop.
     */
    @GlobalStateCode
    public static void removeFilter(BlockNode filter) {
        if (!filter.driver().isFilter()) {
            // A raw window removed this way let writes at offset 0 land at the file's offset 0, outside the image.
            throw new IllegalArgumentException("node '" + filter.name() + "' (" + filter.driver().formatName()
                    + ") is not a filter: removing it would change what its parents read and write");
        }
        List<BlockChild> children = filter.children();
        if (children.size() != 1) {
            throw new IllegalArgumentException("node '" + filter.name() + "' has " + children.size()
                    + " children; a filter has exactly one");
        }
        BlockChild edge = children.getFirst();
        BlockNode below = edge.node();
        filter.drainedBegin();
        try {
            writeLock();
            try {
                repointParents(filter, below);
            } finally {
                writeUnlock();
            }
        } finally {
            filter.drainedEnd();
        }
        filter.close(); // unused now; closing detaches its edge to the node below
    }

    /**
     * Moves {@code node} and every node connected to it (children and parents, transitively) to {@code ctx}
     * (QEMU's {@code bdrv_try_change_aio_context}): they are drained, each driver leaves its old context and
     * joins the new one; backends follow their root node. Main loop.
     */
    @GlobalStateCode
    public static void moveToContext(BlockNode node, AioContext ctx) {
        Objects.requireNonNull(ctx, "ctx");
        List<BlockNode> component = connected(node);
        for (BlockNode n : component) {
            n.drainedBegin();
        }
        try {
            writeLock();
            try {
                for (BlockNode n : component) {
                    n.setContext(ctx);
                }
            } finally {
                writeUnlock();
            }
        } finally {
            for (BlockNode n : component.reversed()) {
                n.drainedEnd();
            }
        }
    }

    private static void repointParents(BlockNode from, BlockNode to) {
        List<BlockChild> edges = from.parents().stream().filter(e -> e.parent() != to).toList();
        for (BlockChild parentEdge : edges) { // all checked before any changes: refused means unchanged
            if (parentEdge.parent() instanceof BlockNode parent) {
                BlockNode.refuseCycle(parent, parentEdge.name(), to);
            }
        }
        for (BlockChild parentEdge : edges) {
            BlockNode.repoint(parentEdge, to);
        }
    }

    /** {@code start} and every node reachable through edges in either direction. */
    private static List<BlockNode> connected(BlockNode start) {
        Set<BlockNode> seen = new LinkedHashSet<>();
        ArrayDeque<BlockNode> todo = new ArrayDeque<>();
        todo.add(start);
        while (!todo.isEmpty()) {
            BlockNode n = todo.poll();
            if (!seen.add(n)) {
                continue;
            }
            for (BlockChild c : n.children()) {
                todo.add(c.node());
            }
            for (BlockChild p : n.parents()) {
                if (p.parent() instanceof BlockNode parentNode) {
                    todo.add(parentNode);
                }
            }
        }
        return new ArrayList<>(seen);
    }
}
