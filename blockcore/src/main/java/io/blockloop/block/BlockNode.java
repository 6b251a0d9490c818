package io.blockloop.block;

import io.blockloop.aio.AioContext;
import io.blockloop.aio.AioWait;
import io.blockloop.aio.MainLoop;
import io.blockloop.aio.role.GlobalStateCode;
import io.blockloop.aio.role.IoCode;
import io.blockloop.aio.role.IoOrGlobalStateCode;
import io.blockloop.block.graph.GraphLock;
import io.blockloop.block.graph.GraphReadLocked;
import io.blockloop.block.graph.GraphWriteLocked;
import io.blockloop.coroutine.Coroutine;
import io.blockloop.ffm.errno.Errno;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A node of the block graph (QEMU's {@code BlockDriverState}): a {@link BlockDriver} instance, the
 * {@link AioContext} its I/O runs in, the edges to its children and from its parents, and the generic request
 * path every request of the node goes through.
 *
 * <h2>The request path</h2>
 * {@link #coPreadv}, {@link #coPwritev}, {@link #coPwriteZeroes}, {@link #coPdiscard} and {@link #coFlush} are
 * QEMU's {@code bdrv_co_*}: they check the range, count the request {@linkplain #inFlight() in flight} before
 * anything can yield, pad requests that are not multiples of the driver's request alignment with
 * read-modify-write (serialised against overlapping requests by {@link TrackedRequests}), split transfers above
 * the driver's maximum, emulate FUA with a flush when the driver lacks it, skip flushes when nothing was written
 * since the last one, and call the driver. They return 0 or a negative errno, so the hot path allocates nothing
 * and throws nothing; {@code BlockBackend} turns errors into {@link BlockIoException}s with a message. The graph
 * read lock is not taken here: the root user ({@code BlockBackend}) takes it once per request, and a parent node
 * calling its child is already under it.
 *
 * <h2>Threads</h2>
 * I/O methods ({@link IoCode}, {@link GraphReadLocked}): a coroutine on the home thread of {@link #context()}
 * holding the graph read lock (the first checked always, the second with {@code -ea}). Graph and
 * lifecycle methods ({@link #addChild}, {@link #setContext}, {@link #close}): global-state code, main loop,
 * with the node drained. {@link #inFlight()}, {@link #length()}, {@link #limits()}, {@link #name()}: any thread.
 *
 * <h2>Memory ordering</h2>
 * {@code inFlight} is atomic (a volatile add): the drain side reads it from the main loop; the decrement to zero
 * is followed by {@link AioWait#kickAfterVolatileWrite()}: the decrement and its volatile read of the waiter
 * count pair with the waiter's volatile increment of that count and its volatile read of {@code inFlight}, so a
 * drain never sleeps through the last completion. {@code context} is volatile: set by the main loop while
 * the node is drained, read by anyone who must schedule work into the node.
 */
public final class BlockNode implements BlockParent {
    /** Automatic node names: an atomic counter for uniqueness only, no ordering needed. */
    private static final AtomicInteger AUTO_NAMES = new AtomicInteger();
    /** Every open node (QEMU's {@code all_bdrv_states}): what drain-all quiesces. */
    private static final Set<BlockNode> ALL = ConcurrentHashMap.newKeySet();

    /** Drain-all sections in progress (main loop); nodes created meanwhile start quiesced that many times. */
    private static int drainAllCount;
    private static final VarHandle IN_FLIGHT;

    static {
        try {
            IN_FLIGHT = MethodHandles.lookup().findVarHandle(BlockNode.class, "inFlight", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /**
     * Largest length of a node (QEMU's {@code BDRV_MAX_LENGTH}): {@link Long#MAX_VALUE} rounded down to 1 GiB, so
     * that a range's end rounded up to any alignment, or plus one piece of a split request, stays a positive
     * {@code long}. Drivers refuse to open anything longer.
     */
    public static final long MAX_LENGTH = Long.MAX_VALUE & -(1L << 30);

    /** Largest byte count of one request (QEMU's {@code BDRV_REQUEST_MAX_BYTES}, 2 GiB minus 512). */
    public static final long MAX_REQUEST_BYTES = (Integer.MAX_VALUE >> 9) << 9;

    private final String name;
    private final BlockDriver driver;
    private final BlockLimits limits;
    private final List<BlockChild> children = new CopyOnWriteArrayList<>();
    private final List<BlockChild> parents = new CopyOnWriteArrayList<>();
    private final TrackedRequests tracked = new TrackedRequests();
    private final RequestPadding padding;
    /** {@link #setContext}'s volatile store (main loop, nothing in flight) pairs with {@link #context()}'s load. */
    private volatile AioContext context;
    @SuppressWarnings("unused") // through IN_FLIGHT
    private volatile int inFlight;
    /**
     * Drained sections this node is in (its own and its children's); written by the main loop. A count only:
     * {@link #quiesceCounter()} reads it on any thread, and nothing else is published through it.
     */
    private final AtomicInteger quiesceCounter = new AtomicInteger();
    // ---- home thread ----
    /**
     * Writes completed through this node (QEMU's {@code write_gen}): moved when a write, zero-write or discard has
     * ended, not when it starts. A flush that ran while a write was in flight records the generation it saw, so the
     * next flush, after the write ended, sees a newer one and reaches the driver. Moved at the start, as until session
     * 26, the first flush took the running write's generation as flushed, and the flush after the write ended was
     * skipped though nothing had flushed that write.
     */
    private long writeGeneration;
    private long flushedGeneration;
    private boolean closed;
    /** Close as soon as the last parent detaches ({@link #closeWhenUnused}). Main loop. */
    private boolean closeWhenUnused;

    /**
     * A node named {@code name} (null: an automatic {@code #blockN} name) over an open {@code driver}, living in
     * {@code context}. Main loop.
     *
     * @throws IllegalArgumentException when a child of the driver lives in another context; the driver's edges
     *                                  then stay on their nodes, for the caller to detach
     */
    public BlockNode(String name, BlockDriver driver, AioContext context) {
        this.name = name != null ? name : "#block" + AUTO_NAMES.getAndIncrement();
        this.driver = Objects.requireNonNull(driver, "driver");
        this.context = Objects.requireNonNull(context, "context");
        this.limits = driver.limits();
        this.padding = new RequestPadding(this);
        for (BlockChild edge : driver.children()) {
            refuseOtherContext(edge.name(), edge.node());
        }
        for (int i = 0; i < drainAllCount; i++) {
            quiesce();
        }
        ALL.add(this);
        for (BlockChild edge : driver.children()) {
            edge.adoptBy(this);
            children.add(edge);
            edge.followDrain(); // a node built over a drained child starts quiesced (QEMU's bdrv_append rule)
        }
    }

    /** The node name. */
    public String name() {
        return name;
    }

    public BlockDriver driver() {
        return driver;
    }

    /** The context this node's I/O runs in. Any thread (volatile). */
    public AioContext context() {
        return context;
    }

    public BlockLimits limits() {
        return limits;
    }

    /** Length in bytes. Any thread. */
    public long length() {
        return driver.length();
    }

    /** Requests of this node that have started and not completed. Any thread (volatile). */
    public int inFlight() {
        return (int) IN_FLIGHT.getVolatile(this);
    }

    /** The edges to this node's children, in the order they were added. Any thread (a snapshot). */
    public List<BlockChild> children() {
        return List.copyOf(children);
    }

    /** The edges from this node's users. Any thread (a snapshot). */
    public List<BlockChild> parents() {
        return List.copyOf(parents);
    }

    /**
     * Connects {@code parent} to this node under {@code role}. When the child is drained, the new parent is
     * quiesced with it at once (QEMU's rule for attaching under a drained node). Main loop.
     */
    @GlobalStateCode
    public static BlockChild attach(BlockParent parent, String role, BlockNode child) {
        MainLoop.requireMainThread("BlockNode.attach");
        child.refuseIfClosed(role);
        if (parent instanceof BlockNode node) {
            refuseCycle(node, role, child);
            node.refuseOtherContext(role, child);
        }
        BlockChild edge = new BlockChild(role, parent, child);
        child.parents.add(edge);
        if (parent instanceof BlockNode node) {
            node.children.add(edge);
        }
        edge.followDrain();
        return edge;
    }

    /**
     * An edge to {@code child} for a node that is not built yet: its driver is opened over the edge first, and
     * the node adopts the edges its driver {@linkplain BlockDriver#children() reports} when it is constructed.
     * Main loop.
     */
    @GlobalStateCode
    public static BlockChild attachForNewParent(String role, BlockNode child) {
        MainLoop.requireMainThread("BlockNode.attachForNewParent");
        child.refuseIfClosed(role);
        BlockChild edge = new BlockChild(role, null, child);
        child.parents.add(edge);
        return edge;
    }

    /**
     * Disconnects {@code edge} from its node (and from its parent node); a parent that was quiesced through the
     * edge is released. Main loop.
     */
    @GlobalStateCode
    public static void detach(BlockChild edge) {
        MainLoop.requireMainThread("BlockNode.detach");
        if (edge.parent() instanceof BlockNode node && !node.closed) {
            // Its driver keeps the edge and goes on using it: requests then reached a node outside the graph,
            // which a move to another context left behind in the old one.
            throw new IllegalStateException("cannot detach " + edge.name() + " of node '" + node.name()
                    + "' while that node is open: its driver uses the edge; close the node, or remove a filter with"
                    + " BlockGraph.removeFilter");
        }
        BlockNode child = edge.node();
        child.parents.remove(edge);
        if (edge.parent() instanceof BlockNode node) {
            node.children.remove(edge);
        }
        edge.unquiesceParent();
        if (child.closeWhenUnused && child.parents.isEmpty()) {
            child.closeWhenUnused(); // its last user left
        }
    }

    /**
     * Points {@code edge} at {@code replacement} instead of its current node (QEMU's
     * {@code bdrv_replace_child_noperm}): the parent's quiescing follows the edge, so the edge holds its parent
     * quiesced exactly while the new child is drained. Main loop, graph write lock held, both nodes idle.
     */
    @GraphWriteLocked
    @GlobalStateCode
    public static void repoint(BlockChild edge, BlockNode replacement) {
        assert GraphLock.checkWritable();
        BlockNode old = edge.node();
        if (old == replacement) {
            return;
        }
        if (edge.parent() instanceof BlockNode node) {
            refuseCycle(node, edge.name(), replacement);
        }
        if (replacement.context() != old.context()) {
            throw new IllegalArgumentException("cannot point " + edge.name() + " of " + edge.parent().parentDescription()
                    + " at node '" + replacement.name() + "': it lives in " + replacement.context()
                    + ", the old node in " + old.context());
        }
        // Quiesce for the new child first, release for the old one last: the parent never runs unquiesced
        // in between when both are drained.
        if (replacement.quiesceCounter() > 0) {
            edge.quiesceParent();
        }
        old.parents.remove(edge);
        edge.setNode(replacement);
        replacement.parents.add(edge);
        edge.followDrain();
    }

    /** Moves the node (not its children) to {@code ctx}. Main loop, nothing in flight. */
    @GlobalStateCode
    public void setContext(AioContext ctx) {
        Objects.requireNonNull(ctx, "ctx");
        MainLoop.requireMainThread("BlockNode.setContext");
        if (inFlight() != 0) {
            throw new IllegalStateException("node '" + name + "' has " + inFlight() + " requests in flight");
        }
        if (ctx == context) {
            return;
        }
        driver.detachContext();
        context = ctx;
        driver.attachContext(ctx);
    }

    // ------------------------------------------------------------------ drained sections

    /** Drained sections this node is in. Any thread (volatile). */
    public int quiesceCounter() {
        return quiesceCounter.get();
    }

    /**
     * Begins a drained section (QEMU's {@code bdrv_drained_begin}): the first one quiesces every parent (they
     * stop sending requests, recursively up to the backends), then polls until this node and its parents have no
     * request in flight. From a coroutine the work is handed to the main loop and the coroutine waits for it
     * (QEMU's {@code bdrv_co_yield_to_drain}), so a coroutine never polls. Main loop, or a coroutine in any
     * context.
     */
    @IoOrGlobalStateCode
    public void drainedBegin() {
        if (Coroutine.inCoroutine()) {
            DrainHandOff.run(this::drainedBegin);
            return;
        }
        requireMainLoop("drainedBegin");
        if (GraphLock.global().hasWriter()) {
            // A request asleep in the graph read lock is counted in flight: the drain would wait for it, and it for
            // the write section's end, which waits for the drain. It hung the main loop without a word (session 26).
            // QEMU forbids it too (bdrv_drained_begin is GRAPH_UNLOCKED).
            throw new IllegalStateException("drainedBegin of node '" + name + "' inside the graph's write section:"
                    + " drain first, then take the write lock (as BlockGraph's changes do)");
        }
        quiesce();
        AioWait.waitWhile(context, this::drainBusy);
    }

    /** Ends a drained section; the last one releases the parents. Never polls. Main loop or a coroutine. */
    @IoOrGlobalStateCode
    public void drainedEnd() {
        if (Coroutine.inCoroutine()) {
            DrainHandOff.run(this::drainedEnd);
            return;
        }
        requireMainLoop("drainedEnd");
        unquiesce();
    }

    /** {@link #drainedBegin()} then {@link #drainedEnd()}: waits for what is in flight now. */
    public void drain() {
        drainedBegin();
        drainedEnd();
    }

    /** Enters a drained section without polling (QEMU's {@code bdrv_do_drained_begin_quiesce}). Main loop. */
    void quiesce() {
        if (quiesceCounter.getAndIncrement() == 0) {
            for (BlockChild edge : parents) {
                edge.quiesceParent();
            }
            driver.drainBegin();
        }
    }

    /** Leaves a drained section entered with {@link #quiesce()}. Main loop. */
    void unquiesce() {
        int before = quiesceCounter.getAndDecrement();
        if (before <= 0) {
            quiesceCounter.incrementAndGet();
            throw new IllegalStateException("drainedEnd on node '" + name + "' without drainedBegin");
        }
        if (before == 1) {
            driver.drainEnd();
            for (BlockChild edge : parents) {
                edge.unquiesceParent();
            }
        }
    }

    /**
     * Quiesces every open node without polling (QEMU's {@code bdrv_drain_all_begin_nopoll}); nodes opened before
     * {@link #drainAllEnd()} start quiesced. What the graph lock's writer does first. Main loop.
     */
    @GlobalStateCode
    public static void drainAllBeginNoPoll() {
        requireMainLoop("drainAllBeginNoPoll");
        drainAllCount++;
        for (BlockNode node : ALL) {
            node.quiesce();
        }
    }

    /** Quiesces every node and polls until none has a request in flight (QEMU's {@code bdrv_drain_all_begin}). */
    @GlobalStateCode
    public static void drainAllBegin() {
        drainAllBeginNoPoll();
        AioContext main = MainLoop.context();
        AioWait.waitWhile(main, () -> ALL.stream().anyMatch(BlockNode::drainBusy));
    }

    /** Ends a drain-all section. Main loop. */
    @GlobalStateCode
    public static void drainAllEnd() {
        requireMainLoop("drainAllEnd");
        if (drainAllCount == 0) {
            throw new IllegalStateException("drainAllEnd without drainAllBegin");
        }
        drainAllCount--;
        for (BlockNode node : ALL) {
            node.unquiesce();
        }
    }

    /** The open nodes (a snapshot). Any thread. */
    public static List<BlockNode> allNodes() {
        return List.copyOf(ALL);
    }

    /** Whether a drain of this node must keep polling: requests here, or parents still busy. */
    boolean drainBusy() {
        if (inFlight() > 0) {
            return true;
        }
        for (BlockChild edge : parents) {
            if (edge.parent().childDrainedPoll(edge)) {
                return true;
            }
        }
        return false;
    }

    @Override
    public void childDrainedBegin(BlockChild edge) {
        quiesce();
    }

    @Override
    public void childDrainedEnd(BlockChild edge) {
        unquiesce();
    }

    @Override
    public boolean childDrainedPoll(BlockChild edge) {
        return drainBusy();
    }

    private static void requireMainLoop(String what) {
        MainLoop.requireMainThread(what + " outside a coroutine");
    }

    // ------------------------------------------------------------------ registered buffers

    /**
     * Offers {@code buffer} to this node's driver and to the nodes below (QEMU's {@code bdrv_register_buf}); true if
     * some driver pinned it for its I/O (a {@code file} node on io_uring). A coroutine on the home thread of
     * {@link #context()}, graph read lock held ({@link io.blockloop.block.backend.BlockBackend#registerBuffer}).
     */
    @GraphReadLocked
    public boolean registerBuffer(MemorySegment buffer) {
        return offerBuffer(buffer, true);
    }

    /** Undoes {@link #registerBuffer} on this node and the nodes below; true if some driver had it. Same threads. */
    @GraphReadLocked
    public boolean unregisterBuffer(MemorySegment buffer) {
        return offerBuffer(buffer, false);
    }

    private boolean offerBuffer(MemorySegment buffer, boolean register) {
        boolean any = register ? driver.registerBuffer(buffer) : driver.unregisterBuffer(buffer);
        for (BlockChild child : children) {
            any |= child.node().offerBuffer(buffer, register);
        }
        return any;
    }

    // ------------------------------------------------------------------ the request path

    /** Reads {@code bytes} at {@code offset} into {@code qiov}. Returns 0 or a negative errno. Coroutine. */
    @GraphReadLocked
    @IoCode
    public int coPreadv(long offset, long bytes, IoVector qiov, int flags) {
        return readOrWrite(false, offset, bytes, qiov, flags);
    }

    /** Writes {@code qiov} ({@code bytes} long) at {@code offset}. Returns 0 or a negative errno. Coroutine. */
    @GraphReadLocked
    @IoCode
    public int coPwritev(long offset, long bytes, IoVector qiov, int flags) {
        return readOrWrite(true, offset, bytes, qiov, flags);
    }

    /**
     * QEMU's {@code bdrv_co_preadv_part}/{@code bdrv_co_pwritev_part}: aligned requests are tracked (so a
     * read-modify-write cycle can wait for them) and go straight down; others are padded.
     */
    private int readOrWrite(boolean write, long offset, long bytes, IoVector qiov, int flags) {
        requireHomeCoroutine();
        assert GraphLock.checkReadable();
        int check = checkRequest(offset, bytes, qiov);
        if (check != 0 || bytes == 0) {
            return check;
        }
        incInFlight();
        try {
            if (isAligned(offset, bytes)) {
                TrackedRequest req = tracked.begin(offset, bytes, false);
                try {
                    tracked.waitForConflicts(req);
                    return write ? alignedWrite(offset, bytes, qiov, flags) : alignedRead(offset, bytes, qiov, flags);
                } finally {
                    tracked.end(req);
                }
            }
            return write ? padding.write(offset, bytes, qiov, flags) : padding.read(offset, bytes, qiov, flags);
        } finally {
            decInFlight();
        }
    }

    /**
     * Makes {@code [offset, offset + bytes)} read back as zeroes: the driver's zero-write for the aligned middle
     * (or a zeroed buffer when it cannot), padded writes of zeroes for unaligned ends. Coroutine.
     */
    @GraphReadLocked
    @IoCode
    public int coPwriteZeroes(long offset, long bytes, int flags) {
        requireHomeCoroutine();
        assert GraphLock.checkReadable();
        int check = checkRange(offset, bytes);
        if (check != 0 || bytes == 0) {
            return check;
        }
        incInFlight();
        try {
            return padding.writeZeroes(offset, bytes, flags);
        } finally {
            decInFlight();
        }
    }

    /**
     * Discards the range (advisory, QEMU's {@code bdrv_co_pdiscard}): the driver gets it in pieces split at the
     * request alignment, so a storage that can discard bytes (a hole punched in a file) zeroes partial blocks too,
     * while one that refuses the unaligned head or tail ({@code EINVAL}) or cannot discard at all
     * ({@code EOPNOTSUPP}) leaves them and the call still succeeds. A discard touching partial blocks is
     * serialising over their aligned cover, like a read-modify-write, so no padded write restores stale bytes
     * over it. Coroutine.
     */
    @GraphReadLocked
    @IoCode
    public int coPdiscard(long offset, long bytes) {
        requireHomeCoroutine();
        assert GraphLock.checkReadable();
        int check = checkRange(offset, bytes);
        if (check != 0 || bytes == 0) {
            return check;
        }
        long align = limits.requestAlignment();
        long end = offset + bytes;
        long coverStart = offset & -align;
        long coverEnd = (end + align - 1) & -align;
        incInFlight();
        TrackedRequest req = tracked.begin(coverStart, coverEnd - coverStart, !isAligned(offset, bytes));
        try {
            tracked.waitForConflicts(req);
            long maxPiece = Math.max(align, limits.maxTransfer() & -align);
            for (long at = offset; at < end; ) {
                long nextBoundary = (at & (align - 1)) != 0 ? Math.min((at + align - 1) & -align, end)
                        : at + Math.min(maxPiece, end - at); // at + maxPiece overflowed near 2^63: a hang
                long n = (nextBoundary - at >= align) ? (nextBoundary - at) & -align : nextBoundary - at;
                int ret = driver.coPdiscard(at, n);
                boolean partial = ((at | n) & (align - 1)) != 0;
                if (ret == -Errno.EOPNOTSUPP && !partial) {
                    return 0; // the storage cannot discard at all
                }
                if (ret < 0 && ret != -Errno.EOPNOTSUPP && !(partial && ret == -Errno.EINVAL)) {
                    return ret;
                }
                at += n;
            }
            return 0;
        } finally {
            writeGeneration++; // ended, whatever it did (see writeGeneration)
            tracked.end(req);
            decInFlight();
        }
    }

    /**
     * Makes every write completed before the call durable. The driver's flush is skipped when nothing was written
     * through this node since its last successful flush (QEMU's {@code write_gen}/{@code flushed_gen}); the children
     * are flushed then all the same, as QEMU's {@code flush_children} does, since another parent may have written to
     * them. (A driver with children flushes them itself when it runs.) Coroutine.
     */
    @GraphReadLocked
    @IoCode
    public int coFlush() {
        requireHomeCoroutine();
        assert GraphLock.checkReadable();
        incInFlight();
        try {
            long generation = writeGeneration;
            if (generation == flushedGeneration) {
                return flushChildren();
            }
            int ret = driver.coFlush();
            if (ret == 0 && generation - flushedGeneration > 0) {
                flushedGeneration = generation;
            }
            return ret;
        } finally {
            decInFlight();
        }
    }

    /** A write of an aligned range: split at the driver's maximum transfer, FUA emulated when needed. */
    int alignedWrite(long offset, long bytes, IoVector qiov, int flags) {
        int driverFlags = flags & driver.supportedWriteFlags();
        int ret;
        try {
            ret = transfer(offset, bytes, qiov, driverFlags, true);
        } finally {
            writeGeneration++; // ended, whatever it did (see writeGeneration)
        }
        if (ret == 0 && (flags & RequestFlags.FUA) != 0 && (driverFlags & RequestFlags.FUA) == 0) {
            ret = driver.coFlush();
        }
        return ret;
    }

    /** Flushes every child; the first error, after trying them all. Coroutine, graph read lock held. */
    private int flushChildren() {
        int ret = 0;
        for (BlockChild child : children) {
            int r = child.node().coFlush();
            if (ret == 0) {
                ret = r;
            }
        }
        return ret;
    }

    /**
     * The driver's zero-write of an aligned range, a write for the next {@link #coFlush} like any other. FUA is not
     * passed down but emulated by a flush, as QEMU does for drivers without FUA among their zero flags: the file
     * driver's {@code fallocate} and {@code BLKZEROOUT} have no FUA. Before, the zero-write moved no generation, so
     * the next flush was skipped, and FUA reached the file driver, which ignored it.
     */
    int alignedWriteZeroes(long offset, long bytes, int flags) {
        int ret;
        try {
            ret = driver.coPwriteZeroes(offset, bytes, flags & ~RequestFlags.FUA);
        } finally {
            writeGeneration++; // ended, whatever it did (see writeGeneration)
        }
        if (ret == 0 && (flags & RequestFlags.FUA) != 0) {
            ret = driver.coFlush();
        }
        return ret;
    }

    /** A read of an aligned range, split at the driver's maximum transfer. */
    int alignedRead(long offset, long bytes, IoVector qiov, int flags) {
        return transfer(offset, bytes, qiov, flags, false);
    }

    private int transfer(long offset, long bytes, IoVector qiov, int flags, boolean write) {
        long max = limits.maxTransfer() & -(long) limits.requestAlignment();
        if (bytes <= max) {
            return write ? driver.coPwritev(offset, bytes, qiov, flags) : driver.coPreadv(offset, bytes, qiov, flags);
        }
        IoVector part = new IoVector(Math.min(qiov.count(), 16));
        for (long done = 0; done < bytes; done += max) {
            long n = Math.min(max, bytes - done);
            part.reset();
            qiov.sliceInto(part, done, n);
            int ret = write ? driver.coPwritev(offset + done, n, part, flags)
                    : driver.coPreadv(offset + done, n, part, flags);
            if (ret < 0) {
                return ret;
            }
        }
        return 0;
    }

    TrackedRequests tracked() {
        return tracked;
    }

    // ------------------------------------------------------------------ lifecycle

    /**
     * Closes the driver and detaches this node from its children, which become free to close in turn (QEMU's
     * {@code bdrv_close} drops its children). Main loop, nothing in flight, no parents; idempotent.
     *
     * @throws IllegalStateException off the main loop's thread, with requests in flight, or while some parent
     *                               (a backend or another node) still uses this node: closing it under them closed
     *                               its fd, and their next write went to whatever file the fd number was given to
     */
    public void close() {
        if (closed) {
            return;
        }
        MainLoop.requireMainThread("BlockNode.close");
        if (!parents.isEmpty()) {
            List<String> users = parents.stream()
                    .map(e -> e.parent() == null ? "a node being opened" : e.parent().parentDescription()).toList();
            throw new IllegalStateException("node '" + name + "' cannot close while it is used by " + users);
        }
        if (inFlight() != 0) {
            throw new IllegalStateException("node '" + name + "' closed with " + inFlight() + " requests in flight");
        }
        closed = true;
        ALL.remove(this);
        driver.close();
        for (BlockChild edge : List.copyOf(children)) {
            detach(edge); // allowed now that this node is closed
        }
    }

    /**
     * Closes this node now if nothing uses it, and then, the same way, the children it leaves unused; a node still
     * used is closed as soon as its last parent detaches (QEMU drops a node with its last reference; BlockLoop
     * counts parents instead of references). How a backend closes the nodes it opened, so that nodes another
     * backend still uses outlive it and close after that one. Main loop.
     */
    public void closeWhenUnused() {
        MainLoop.requireMainThread("BlockNode.closeWhenUnused");
        if (closed) {
            return;
        }
        if (!parents.isEmpty()) {
            closeWhenUnused = true;
            return;
        }
        List<BlockChild> below = List.copyOf(children);
        close();
        for (BlockChild edge : below) {
            edge.node().closeWhenUnused();
        }
    }

    /**
     * A node's requests run in its context and call its children there, so a child must live in the same one (as
     * {@link #repoint} requires). Connected across contexts, the graph built, and its first read failed with a
     * message about the caller's thread.
     */
    private void refuseOtherContext(String role, BlockNode child) {
        if (child.context() != context) {
            throw new IllegalArgumentException("node '" + child.name() + "' lives in " + child.context()
                    + ", and cannot be the " + role + " child of node '" + name + "', which lives in " + context
                    + ": move one of them first");
        }
    }

    /**
     * A closed node has closed its driver: its fd number may already belong to another file, which a new parent's
     * writes would reach (a backend attached over a closed node wrote into whatever file had reused its fd).
     */
    private void refuseIfClosed(String role) {
        if (closed) {
            throw new IllegalStateException("node '" + name + "' is closed: it cannot be attached as '" + role + "'");
        }
    }

    /** Whether {@link #close()} has run. Main loop. */
    public boolean isClosed() {
        return closed;
    }

    /**
     * Refuses to make {@code child} a child of {@code parent} (under {@code role}) when {@code parent} is
     * {@code child} or lies below it: a request would reach the same node again inside itself and wait for itself
     * (an overlapping tracked request) for ever, and the drain and buffer walks would recurse without end. Main
     * loop ({@link BlockGraph} checks a whole change with it before it makes any).
     */
    static void refuseCycle(BlockNode parent, String role, BlockNode child) {
        if (reaches(child, parent, new HashSet<>())) {
            throw new IllegalArgumentException("making node '" + child.name() + "' the " + role + " child of node '"
                    + parent.name() + "' would create a cycle");
        }
    }

    private static boolean reaches(BlockNode from, BlockNode target, Set<BlockNode> seen) {
        if (from == target) {
            return true;
        }
        if (!seen.add(from)) {
            return false;
        }
        for (BlockChild edge : from.children) {
            if (reaches(edge.node(), target, seen)) {
                return true;
            }
        }
        return false;
    }

    @Override
    public String parentDescription() {
        return "node '" + name + "'";
    }

    @Override
    public String toString() {
        return "BlockNode[" + name + ", " + driver.formatName() + ", " + length() + " bytes]";
    }

    // ------------------------------------------------------------------ internals

    private boolean isAligned(long offset, long bytes) {
        return ((offset | bytes) & (limits.requestAlignment() - 1)) == 0;
    }

    private int checkRequest(long offset, long bytes, IoVector qiov) {
        if (qiov.size() != bytes) {
            throw new IllegalArgumentException("I/O vector of " + qiov.size() + " bytes for a request of " + bytes);
        }
        return bytes > MAX_REQUEST_BYTES ? -Errno.EINVAL : checkRange(offset, bytes);
    }

    /**
     * The range of any request: not negative, no overflow. Requests carrying data are also limited to
     * {@link #MAX_REQUEST_BYTES} ({@link #checkRequest}); write-zeroes and discard are not, as in QEMU (a 3 GiB
     * {@code write -z} failed with EINVAL), since they split their work themselves.
     */
    private static int checkRange(long offset, long bytes) {
        if (offset < 0 || bytes < 0 || offset > Long.MAX_VALUE - bytes) {
            return -Errno.EINVAL;
        }
        return 0;
    }

    private void incInFlight() {
        // Volatile RMW, read by a drain through inFlight() (drainBusy); the wake-up side is in decInFlight().
        IN_FLIGHT.getAndAdd(this, 1);
    }

    private void decInFlight() {
        if ((int) IN_FLIGHT.getAndAdd(this, -1) == 1) {
            // A drain may wait for zero: the volatile decrement and kick's volatile read of the waiter count pair with
            // the waiter's volatile registration and its volatile read of inFlight (see kickAfterVolatileWrite).
            AioWait.kickAfterVolatileWrite();
        }
    }

    /**
     * Refuses I/O from anywhere but a coroutine of this node's context. A real check, not an assertion: without
     * {@code -ea}, a read from a plain thread went down to the driver, opened the context's engine on that thread,
     * and from then on every request of the context failed ("engine owned by ...") and its loop logged an error on
     * each iteration. The graph read lock stays an assertion: it is the backend's to take, and checking it takes a
     * lock to sum the reader counts.
     */
    private void requireHomeCoroutine() {
        AioContext ctx = context;
        Coroutine self = Coroutine.self();
        // The coroutine's context, not Thread.currentThread(): compiled code may reuse a thread read from before
        // the coroutine last moved (io.blockloop.block.graph's package documentation).
        if (self == null || self.context() != ctx) {
            throw new IllegalStateException("I/O on node '" + name + "' must run in a coroutine of its context '"
                    + ctx.name() + "', not " + (self == null ? "in plain code" : "in " + self) + " on thread '"
                    + Thread.currentThread().getName() + "'; use a BlockBackend from other threads");
        }
    }
}
