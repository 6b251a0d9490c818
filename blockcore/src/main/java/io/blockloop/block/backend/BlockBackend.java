package io.blockloop.block.backend;

import io.blockloop.aio.AioContext;
import io.blockloop.aio.AioWait;
import io.blockloop.aio.MainLoop;
import io.blockloop.block.BlockChild;
import io.blockloop.block.BlockIoException;
import io.blockloop.block.BlockNode;
import io.blockloop.block.BlockParent;
import io.blockloop.block.IoVector;
import io.blockloop.block.RequestFlags;
import io.blockloop.block.file.FileDriver;
import io.blockloop.block.graph.GraphLock;
import io.blockloop.block.graph.ReaderCount;
import io.blockloop.block.file.FileOptions;
import io.blockloop.block.nullio.NullDriver;
import io.blockloop.block.raw.RawDriver;
import io.blockloop.coroutine.CoQueue;
import io.blockloop.coroutine.Coroutine;
import io.blockloop.ffm.errno.Errno;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.Lock;
import java.util.function.Function;

/**
 * The user's handle on a block graph (QEMU's {@code BlockBackend}): the root edge to one node, with three ways
 * to do I/O on it.
 *
 * <ul>
 *   <li><b>Coroutine API</b> ({@code co*}): from a coroutine in the backend's {@link #context()}; returns when
 *       the request is done. {@link #coRead}, {@link #coWrite}, {@link #coReadv}, {@link #coWritev},
 *       {@link #coFlush}, {@link #coDiscard}, {@link #coWriteZeroes} throw {@link BlockIoException};
 *       {@link #coPreadv} and {@link #coPwritev} return 0 or a negative errno instead, for loops that must not
 *       allocate even on errors. A coroutine of another context is moved to the backend's for the request and
 *       back afterwards.</li>
 *   <li><b>Asynchronous API</b> ({@code *Async}): from any thread; returns a {@link CompletableFuture}
 *       completed in the backend's context. A request cannot be withdrawn: the future's {@code cancel} does
 *       nothing and answers false, and the buffer stays in use until the future completes; it must be reachable
 *       from the backend's thread (a shared arena, not one confined to the caller). Its {@code join} and
 *       {@code get} never stop the loop that must complete it: a coroutine yields, the backend's loop thread and
 *       the main loop poll, another loop's thread is refused ({@link RequestFuture}).</li>
 *   <li><b>Blocking API</b> ({@link #read}, {@link #write}, ...): from any thread that is not running a loop
 *       of another context (that is refused with {@link IllegalStateException}: the wait would stop that loop,
 *       and two loops waiting for each other never wake); the main loop keeps running its own context while it
 *       waits (QEMU's {@code BDRV_POLL_WHILE}), the backend's home thread polls its context.</li>
 * </ul>
 *
 * <p>Every request is checked first: a negative offset or length is {@code EINVAL}; a range past the end fails
 * with {@code EIO} and a message giving offset, length and size (QEMU's {@code blk_check_byte_request}); a
 * buffer whose arena is closed is refused ({@link IllegalStateException}), as is a read into a read-only one
 * ({@link IllegalArgumentException}); on a closed backend every request fails with {@code ENOMEDIUM}. Requests
 * need no alignment: the node pads and bounces what its storage needs. With a write-through cache mode every
 * write carries {@link RequestFlags#FUA}; with {@code cache=unsafe} flushes are skipped.
 *
 * <p>Every request path enters through {@link #begin(Coroutine)} and leaves through
 * {@link #end(Coroutine, ReaderCount)}: the backend's in-flight count (read by {@link #drain()}), the wait while
 * drained, and the single place where the block-graph read lock is taken.
 *
 * <p>Threads: open/close and graph changes are global-state code (main loop; elsewhere refused). The rest: see
 * above. In-flight counting is atomic; its drop to zero is followed by {@link AioWait#kickAfterVolatileWrite()}
 * (the volatile decrement and read pair with the waiter's volatile registration and read), so {@link #drain()}
 * never sleeps through the last completion.
 */
public final class BlockBackend implements BlockParent, AutoCloseable {
    private static final VarHandle IN_FLIGHT;

    static {
        try {
            IN_FLIGHT = MethodHandles.lookup().findVarHandle(BlockBackend.class, "inFlight", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private static final GraphLock GRAPH = GraphLock.global();
    /** Backends not closed yet, in the order they opened: what the main loop must outlive. Any thread. */
    private static final Set<BlockBackend> OPEN = Collections.synchronizedSet(new LinkedHashSet<>());

    static {
        // Closing a backend drains, which only the main loop may do: closing the main loop first stranded them,
        // open and with their images locked, for the life of the process.
        MainLoop.addCloseCheck(BlockBackend::stillOpen);
    }

    private final String name;
    private final BlockChild root;
    /** Nodes this backend opened, root first; if any, close() closes them and what else only they kept in use. */
    private final List<BlockNode> ownedNodes;
    /** Buffers registered through this backend and not unregistered yet; {@link #close()} unregisters them. */
    private final List<MemorySegment> registered = new ArrayList<>();
    private final boolean writeThrough;
    private final boolean ignoreFlush;
    private final boolean readOnly;
    @SuppressWarnings("unused") // through IN_FLIGHT
    private volatile int inFlight;
    /**
     * Drained sections of the root node (and below) this backend is quiesced by. Volatile RMWs and reads: the
     * drain's increment pairs with {@link #begin}'s in-flight increment and read of it (Dekker, see there).
     */
    private final AtomicInteger quiesceCounter = new AtomicInteger();
    /** Requests that arrived while quiesced wait here (QEMU's {@code queued_requests} + its mutex). */
    private final CoQueue queuedRequests = new CoQueue();
    /** A spin lock without owner thread: see {@link ParkedRequestsLock} for why not a JDK lock. */
    private final Lock queuedRequestsLock = new ParkedRequestsLock();
    /** Requests waiting in {@link #waitWhileDrained} (queued or restarted, not yet resumed); under that lock. */
    private int parkedRequests;
    /**
     * Set first thing in {@link #close()}: from then on every request fails with {@code ENOMEDIUM}. Volatile: read
     * by requests on any thread, in {@link #dispatch} and again under the graph read lock in {@link #checkRange},
     * so the requests that close's drain parks do not reach the nodes when the drain ends.
     */
    private volatile boolean closed;
    /** The root edge is detached (main loop only). */
    private boolean detached;
    /** Every step of {@link #close()} is done (main loop only); until then a repeated close finishes the job. */
    private boolean released;

    private BlockBackend(String name, BlockNode root, List<BlockNode> ownedNodes, boolean writeThrough,
                         boolean ignoreFlush, boolean readOnly) {
        this.name = Objects.requireNonNull(name, "name");
        this.ownedNodes = ownedNodes;
        this.writeThrough = writeThrough;
        this.ignoreFlush = ignoreFlush;
        this.readOnly = readOnly;
        this.root = BlockNode.attach(this, "root", root);
        OPEN.add(this);
    }

    /** Null when every backend is closed; otherwise which are open. Any thread. */
    private static String stillOpen() {
        List<String> names;
        synchronized (OPEN) {
            names = OPEN.stream().map(b -> "'" + b.name + "'").toList();
        }
        return names.isEmpty() ? null : "block backends are open (" + String.join(", ", names) + "); close them first";
    }

    /**
     * Opens the graph {@code spec} describes, its nodes living in {@code ctx}, and a backend named {@code name}
     * on top. Main loop: {@link #close()} drains, which only the main loop may do, so a backend opened anywhere
     * else could not be closed there.
     *
     * @throws IllegalArgumentException for inconsistent options; {@link IllegalStateException} off the main loop's
     *                                  thread, in a closing context, for a locked image or refused O_DIRECT;
     *                                  {@link io.blockloop.ffm.errno.NativeCallException} when the file cannot be
     *                                  opened; {@link NullPointerException} for a null argument, before anything
     *                                  is opened
     */
    public static BlockBackend open(String name, ImageSpec spec, AioContext ctx) {
        MainLoop.requireMainThread("BlockBackend.open");
        // All of them before the first node opens: a null context, found by the node's constructor after the file
        // driver had opened and locked the image, left the fd and the lock behind for the life of the process.
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(spec, "spec");
        Objects.requireNonNull(ctx, "ctx");
        if (ctx.isClosing()) {
            throw new IllegalStateException("block backend '" + name + "' cannot open in context '" + ctx.name()
                    + "': it is closing (its IOThread stopped)");
        }
        List<BlockNode> nodes = new ArrayList<>();
        try {
            return switch (spec) {
                case ImageSpec.Null n -> {
                    BlockNode node = new BlockNode(null, NullDriver.open(n.size(), n.readZeroes()), ctx);
                    nodes.add(node);
                    yield new BlockBackend(name, node, nodes, false, false, n.readOnly());
                }
                case ImageSpec.File f -> {
                    BlockNode file = new BlockNode(null, FileDriver.open(f.file(), ctx), ctx);
                    nodes.add(file);
                    yield new BlockBackend(name, file, nodes, f.file().cache().writeThrough(),
                            f.file().cache().ignoreFlush(), f.readOnly());
                }
                case ImageSpec.Raw r -> {
                    FileOptions options = r.file();
                    BlockNode file = new BlockNode(null, FileDriver.open(options, ctx), ctx);
                    nodes.add(file);
                    BlockNode raw = new BlockNode(null, rawOver(file, r.offset(), r.size()), ctx);
                    nodes.addFirst(raw);
                    yield new BlockBackend(name, raw, nodes, options.cache().writeThrough(),
                            options.cache().ignoreFlush(), r.readOnly());
                }
            };
        } catch (RuntimeException | Error e) {
            for (BlockNode node : nodes) {
                node.close();
            }
            throw e;
        }
    }

    private static RawDriver rawOver(BlockNode file, long offset, long size) {
        BlockChild edge = BlockNode.attachForNewParent("file", file);
        try {
            return RawDriver.open(edge, offset, size);
        } catch (RuntimeException e) {
            BlockNode.detach(edge);
            throw e;
        }
    }

    /**
     * A backend over an existing node it does not own (closing the backend leaves the node open). Main loop.
     *
     * @throws IllegalStateException off the main loop's thread
     */
    public static BlockBackend attach(String name, BlockNode node) {
        MainLoop.requireMainThread("BlockBackend.attach");
        return new BlockBackend(name, node, List.of(), false, false, false);
    }

    public String name() {
        return name;
    }

    /** The node at the root of the graph. Any thread. */
    public BlockNode root() {
        return root.node();
    }

    /** The context the backend's I/O runs in: its root node's. Any thread. */
    public AioContext context() {
        return root.node().context();
    }

    /** Size in bytes. Any thread. */
    public long length() {
        return root.node().length();
    }

    /** Requests of this backend in progress. Any thread (volatile). */
    public int inFlight() {
        return (int) IN_FLIGHT.getVolatile(this);
    }

    public boolean readOnly() {
        return readOnly;
    }

    // ------------------------------------------------------------------ coroutine API

    /** Reads {@code buffer.byteSize()} bytes at {@code offset}. Coroutine. */
    public void coRead(long offset, MemorySegment buffer) {
        check("read", offset, buffer.byteSize(), coPreadv(offset, IoVector.of(buffer), 0));
    }

    /** Writes {@code buffer} at {@code offset}; {@code flags}: {@link RequestFlags#FUA}. Coroutine. */
    public void coWrite(long offset, MemorySegment buffer, int flags) {
        requireKnownFlags("write", flags, WRITE);
        check("write", offset, buffer.byteSize(), coPwritev(offset, IoVector.of(buffer), flags));
    }

    /** Vectored read. Coroutine. */
    public void coReadv(long offset, IoVector qiov) {
        check("readv", offset, qiov.size(), coPreadv(offset, qiov, 0));
    }

    /** Vectored write. Coroutine. */
    public void coWritev(long offset, IoVector qiov, int flags) {
        requireKnownFlags("writev", flags, WRITE);
        check("writev", offset, qiov.size(), coPwritev(offset, qiov, flags));
    }

    /** Vectored read returning 0 or a negative errno ({@code -EIO} past the end; {@code -EINVAL}: flags). Coroutine. */
    public int coPreadv(long offset, IoVector qiov, int flags) {
        return dispatch(READ, offset, qiov.size(), qiov, flags);
    }

    /** Vectored write returning 0 or a negative errno ({@code -EINVAL} for flags other than FUA). Coroutine. */
    public int coPwritev(long offset, IoVector qiov, int flags) {
        return dispatch(WRITE, offset, qiov.size(), qiov, writeThrough ? flags | RequestFlags.FUA : flags);
    }

    /** Makes completed writes durable (skipped with {@code cache=unsafe}). Coroutine. */
    public void coFlush() {
        if (ignoreFlush || readOnly) {
            return;
        }
        int ret = dispatch(FLUSH, 0, 0, null, 0);
        if (ret < 0) {
            throw BlockIoException.of("flush of '" + name + "' failed", ret);
        }
    }

    /** Discards {@code [offset, offset + bytes)} (advisory: may leave data in place). Coroutine. */
    public void coDiscard(long offset, long bytes) {
        check("discard", offset, bytes, dispatch(DISCARD, offset, bytes, null, 0));
    }

    /**
     * Makes {@code [offset, offset + bytes)} read back as zeroes; {@code flags}: {@link RequestFlags#MAY_UNMAP},
     * {@link RequestFlags#NO_FALLBACK}, {@link RequestFlags#FUA}. Coroutine.
     */
    public void coWriteZeroes(long offset, long bytes, int flags) {
        requireKnownFlags("write zeroes", flags, WRITE_ZEROES);
        check("write zeroes", offset, bytes,
                dispatch(WRITE_ZEROES, offset, bytes, null, writeThrough ? flags | RequestFlags.FUA : flags));
    }

    private static final int READ = 0;
    private static final int WRITE = 1;
    private static final int FLUSH = 2;
    private static final int DISCARD = 3;
    private static final int WRITE_ZEROES = 4;
    /** The request flags each operation takes, by operation code; any other bit is refused (QEMU asserts). */
    private static final int[] KNOWN_FLAGS = {0, RequestFlags.FUA, 0, 0,
            RequestFlags.FUA | RequestFlags.MAY_UNMAP | RequestFlags.NO_FALLBACK};

    /** For the throwing API: unknown flag bits are a caller's mistake, named in the message. */
    private static void requireKnownFlags(String op, int flags, int opCode) {
        int unknown = flags & ~KNOWN_FLAGS[opCode];
        if (unknown != 0) {
            throw new IllegalArgumentException(op + " flags 0x" + Integer.toHexString(flags) + ": unknown bits 0x"
                    + Integer.toHexString(unknown) + " (see RequestFlags for what " + op + " takes)");
        }
    }

    /**
     * Every request of the coroutine API goes through here: brings the calling coroutine to the backend's
     * context, {@link #begin enters} the request (in flight, drain wait, graph read lock), checks its range
     * against the root's length (under the read lock, as QEMU's {@code blk_check_byte_request}: a graph change
     * between the check and the request could otherwise make the check stale), calls the root node, and undoes
     * all of it. An int operation code rather than a lambda, so the hot path allocates nothing.
     */
    private int dispatch(int op, long offset, long bytes, IoVector qiov, int flags) {
        if (closed) {
            return -Errno.ENOMEDIUM;
        }
        if ((flags & ~KNOWN_FLAGS[op]) != 0) {
            return -Errno.EINVAL; // the errno-returning API; the throwing one refused them with a message
        }
        if (op != READ && op != FLUSH && readOnly) {
            return -Errno.EPERM;
        }
        Coroutine self = requireCoroutine();
        if (qiov == null) {
            return dispatchPinned(self, op, offset, bytes, null, null, null, flags);
        }
        qiov.checkUsable(op == READ);
        // The caller's thread by its context, as the lending decides (not currentThread(), which compiled code may
        // reuse from before a move). Its buffers' arenas stay open until the request has ended.
        Thread caller = threadOf(self);
        IoVector lent = lendFromOtherContext(self, qiov); // refuses a third thread's buffer
        qiov.pinArenas(caller, null);
        try {
            return dispatchPinned(self, op, offset, bytes, qiov, lent, caller, flags);
        } finally {
            qiov.unpinArenas(caller, null);
        }
    }

    /**
     * {@link #dispatch} from the move into the backend's context on, with the caller's buffers {@code own} (pinned
     * on {@code caller}) and the vector the request uses ({@code qiov}, views of those only {@code caller} may
     * access). Whatever happens there, the coroutine goes back to where it came from; should that fail too, after a
     * failure of the request, the second failure is added to the first as suppressed.
     */
    private int dispatchPinned(Coroutine self, int op, long offset, long bytes, IoVector own, IoVector qiov,
                               Thread caller, int flags) {
        AioContext from = enterContext(self);
        Throwable failure = null;
        try {
            return requestInContext(self, op, offset, bytes, own, qiov, caller, flags);
        } catch (RuntimeException | Error e) {
            failure = e;
            throw e;
        } finally {
            try {
                leaveContext(self, from);
            } catch (RuntimeException | Error leaveFailed) {
                if (failure == null) {
                    throw leaveFailed;
                }
                failure.addSuppressed(leaveFailed);
            }
        }
    }

    /**
     * The request itself, in the backend's context, under the graph read lock. A request from another thread also
     * pins there what only the backend's thread can reach (a buffer confined to it), which that thread's other
     * callbacks could otherwise close while the kernel writes it. That thread is read only now: until the read lock
     * is held the backend may move (and the request with it), after the buffers were lent against the old one.
     */
    private int requestInContext(Coroutine self, int op, long offset, long bytes, IoVector own, IoVector qiov,
                                 Thread caller, int flags) {
        ReaderCount readers = begin(self);
        try {
            Thread loop = threadOf(self); // in the backend's context now
            boolean loopPins = own != null && caller != loop;
            if (loopPins) {
                CallerBuffers.requireReachable(own, caller, loop); // a buffer of the loop it left is no longer
                own.pinArenas(loop, caller);
            }
            try {
                int ret = op == FLUSH ? 0 : checkRange(offset, bytes);
                if (ret != 0) {
                    return ret;
                }
                BlockNode node = root.node();
                return switch (op) {
                    case READ -> node.coPreadv(offset, bytes, qiov, flags);
                    case WRITE -> node.coPwritev(offset, bytes, qiov, flags);
                    case FLUSH -> node.coFlush();
                    case DISCARD -> node.coPdiscard(offset, bytes);
                    default -> node.coPwriteZeroes(offset, bytes, flags);
                };
            } finally {
                if (loopPins) {
                    own.unpinArenas(loop, caller);
                }
            }
        } finally {
            end(self, readers);
        }
    }

    /** The thread {@code self} runs on: its context's home thread, or the calling one outside every context. */
    private static Thread threadOf(Coroutine self) {
        AioContext origin = self.context();
        return origin != null ? origin.homeThread() : Thread.currentThread();
    }

    // ------------------------------------------------------------------ registered buffers

    /**
     * Tells the nodes below that {@code buffer} will carry many requests (QEMU's {@code blk_register_buf}, which
     * {@code qemu-img bench} calls on its buffer). A {@code file} node on io_uring registers it with its ring, and
     * requests whose data lies inside it then skip pinning the user's pages; other nodes ignore it. Returns whether
     * some node took it.
     *
     * <p>The memory must stay allocated until {@link #unregisterBuffer} or {@link #close()}, which unregisters what
     * is still registered. (Memory freed with its arena is noticed and no longer used; memory freed behind its
     * segment's back is not.) The registration stays with the engines of the backend's current context: after a
     * move to another, register again. From any thread, like the blocking API: it runs in the backend's context,
     * with the graph read lock, as a request does.
     */
    public boolean registerBuffer(MemorySegment buffer) {
        Objects.requireNonNull(buffer, "buffer");
        requireOpen();
        boolean taken = registration(buffer, true);
        if (taken) {
            synchronized (registered) {
                registered.add(buffer);
            }
        }
        return taken;
    }

    /** Undoes {@link #registerBuffer}; false if the buffer was not registered. Any thread, as there. */
    public boolean unregisterBuffer(MemorySegment buffer) {
        Objects.requireNonNull(buffer, "buffer");
        requireOpen();
        synchronized (registered) {
            if (!registered.remove(buffer)) {
                return false;
            }
        }
        return registration(buffer, false);
    }

    private void requireOpen() {
        if (closed) {
            throw new IllegalStateException("block backend '" + name + "' is closed");
        }
    }

    private boolean registration(MemorySegment buffer, boolean register) {
        return onRootOutsideRequests(node -> register ? node.registerBuffer(buffer) : node.unregisterBuffer(buffer));
    }

    /**
     * Runs {@code work} on the root node in a coroutine in the backend's context, under the graph read lock as a
     * request; but with no in-flight count and no wait while drained, as QEMU's buffer registration is no request:
     * close() unregisters and flushes inside any drained section. Blocks until it is done; returns its result.
     */
    private <T> T onRootOutsideRequests(Function<BlockNode, T> work) {
        List<T> result = new ArrayList<>(1);
        blocking(() -> {
            Coroutine self = requireCoroutine();
            AioContext from = enterContext(self);
            ReaderCount readers = readLockInContext(self);
            while (readers == null) { // it first moved to the backend's context, or the backend moved meanwhile
                readers = readLockInContext(self);
            }
            try {
                result.add(work.apply(root.node()));
            } finally {
                GRAPH.readUnlock(self, readers);
                leaveContext(self, from);
            }
        });
        return result.getFirst();
    }

    // ------------------------------------------------------------------ asynchronous API

    /** {@link #coRead} from any thread. */
    public CompletableFuture<Void> readAsync(long offset, MemorySegment buffer) {
        requireReachableFromContext(buffer, 0, 1);
        return async(() -> coRead(offset, buffer));
    }

    /** {@link #coWrite} from any thread. */
    public CompletableFuture<Void> writeAsync(long offset, MemorySegment buffer, int flags) {
        requireReachableFromContext(buffer, 0, 1);
        return async(() -> coWrite(offset, buffer, flags));
    }

    /** {@link #coReadv} from any thread. */
    public CompletableFuture<Void> readvAsync(long offset, IoVector qiov) {
        requireReachableFromContext(qiov);
        return async(() -> coReadv(offset, qiov));
    }

    /** {@link #coWritev} from any thread. */
    public CompletableFuture<Void> writevAsync(long offset, IoVector qiov, int flags) {
        requireReachableFromContext(qiov);
        return async(() -> coWritev(offset, qiov, flags));
    }

    /** {@link #coFlush} from any thread. */
    public CompletableFuture<Void> flushAsync() {
        return async(this::coFlush);
    }

    /** {@link #coDiscard} from any thread. */
    public CompletableFuture<Void> discardAsync(long offset, long bytes) {
        return async(() -> coDiscard(offset, bytes));
    }

    /** {@link #coWriteZeroes} from any thread. */
    public CompletableFuture<Void> writeZeroesAsync(long offset, long bytes, int flags) {
        return async(() -> coWriteZeroes(offset, bytes, flags));
    }

    private void requireReachableFromContext(IoVector qiov) {
        for (int i = 0; i < qiov.count(); i++) {
            requireReachableFromContext(qiov.segment(i), i, qiov.count());
        }
    }

    /**
     * An asynchronous request runs in the backend's context while its caller goes on, so a buffer confined to the
     * caller's thread cannot serve it. Refused here, at once: before, the aligned ones worked by accident (the
     * kernel takes bare addresses) and the misaligned ones threw WrongThreadException in the IOThread's bounce copy,
     * a read after its I/O was done. The blocking API may take them: it lends them for the call while the caller
     * waits.
     */
    private void requireReachableFromContext(MemorySegment buffer, int index, int count) {
        Thread home = context().homeThread();
        if (!buffer.isAccessibleBy(home)) {
            throw new IllegalArgumentException("I/O buffer " + index + " of " + count + " is confined to another thread"
                    + " than '" + home.getName() + "', where the asynchronous requests of '" + name + "' run: allocate"
                    + " it from a shared arena, or use the blocking API, which lends it for the call");
        }
    }

    private CompletableFuture<Void> async(Runnable request) {
        return async(context(), request);
    }

    /** {@link #async(Runnable)} started in {@code ctx}, the backend's context as the caller read it. */
    private CompletableFuture<Void> async(AioContext ctx, Runnable request) {
        RequestFuture<Void> future = new RequestFuture<>(ctx, name);
        Coroutine co = Coroutine.create(() -> {
            try {
                request.run();
                future.succeed();
            } catch (Throwable t) {
                future.fail(t);
            } finally {
                AioWait.kick(); // a blocking caller in the main loop may wait for this future
            }
        });
        if (closed) {
            co.enter(); // fails at once with ENOMEDIUM, on this thread: the context may be closed as well
            return future;
        }
        try {
            co.enterIn(ctx);
        } catch (IllegalStateException refused) {
            if (!ctx.isClosing()) {
                throw refused;
            }
            throw contextClosing("start", ctx, refused);
        }
        return future;
    }

    // ------------------------------------------------------------------ blocking API

    /**
     * {@link #coRead}, waiting. Any thread but another context's loop. The buffer may come from an arena confined
     * to the calling thread (the blocking methods lend it to the loop for the call), not from one confined to a
     * third thread ({@link IllegalArgumentException}).
     */
    public void read(long offset, MemorySegment buffer) {
        MemorySegment lent = lendForBlocking(buffer);
        blockingPinned(IoVector.of(buffer), true, () -> coRead(offset, lent));
    }

    /** {@link #coWrite}, waiting. */
    public void write(long offset, MemorySegment buffer, int flags) {
        MemorySegment lent = lendForBlocking(buffer);
        blockingPinned(IoVector.of(buffer), false, () -> coWrite(offset, lent, flags));
    }

    /** {@link #coReadv}, waiting. */
    public void readv(long offset, IoVector qiov) {
        IoVector lent = lendForBlocking(qiov);
        blockingPinned(qiov, true, () -> coReadv(offset, lent));
    }

    /** {@link #coWritev}, waiting. */
    public void writev(long offset, IoVector qiov, int flags) {
        IoVector lent = lendForBlocking(qiov);
        blockingPinned(qiov, false, () -> coWritev(offset, lent, flags));
    }

    /**
     * {@link #blocking}, with the caller's own buffers pinned on the caller's thread for the call: one confined to
     * the caller goes to the loop as a view of no arena, which the request cannot pin, and a caller in the main loop
     * runs the loop's callbacks while it waits, one of which could close that arena under the kernel. A coroutine's
     * call runs {@link #dispatch} itself, which pins the same buffers on the same thread.
     */
    private void blockingPinned(IoVector callerBuffers, boolean read, Runnable request) {
        if (Coroutine.inCoroutine()) {
            blocking(request);
            return;
        }
        callerBuffers.checkUsable(read);
        Thread caller = Thread.currentThread();
        callerBuffers.pinArenas(caller, null);
        boolean ended = false;
        try {
            blocking(request);
            ended = true;
        } catch (RuntimeException e) {
            ended = true; // refused before it started (the wait is checked first), or the request's own failure
            throw e;
        } catch (Error e) {
            // A VirtualMachineError a main-loop callback threw out of the wait may leave the request in flight: the
            // pin stays, and so does the arena. Any other error came from the request itself, which has ended.
            ended = !(e instanceof VirtualMachineError);
            throw e;
        } finally {
            if (ended) {
                callerBuffers.unpinArenas(caller, null);
            }
        }
    }

    /** {@link #coFlush}, waiting. */
    public void flush() {
        blocking(this::coFlush);
    }

    /** {@link #coDiscard}, waiting. */
    public void discard(long offset, long bytes) {
        blocking(() -> coDiscard(offset, bytes));
    }

    /** {@link #coWriteZeroes}, waiting. */
    public void writeZeroes(long offset, long bytes, int flags) {
        blocking(() -> coWriteZeroes(offset, bytes, flags));
    }

    /**
     * The blocking caller's buffer, lent to the loop for the call ({@link CallerBuffers}). In a coroutine the
     * blocking methods are the co* ones, and {@link #dispatch} lends what needs lending.
     */
    private MemorySegment lendForBlocking(MemorySegment buffer) {
        return Coroutine.inCoroutine() ? buffer
                : CallerBuffers.lend(buffer, Thread.currentThread(), context().homeThread());
    }

    private IoVector lendForBlocking(IoVector qiov) {
        return Coroutine.inCoroutine() ? qiov
                : CallerBuffers.lend(qiov, Thread.currentThread(), context().homeThread());
    }

    private void blocking(Runnable request) {
        if (Coroutine.inCoroutine()) {
            request.run(); // the co* methods move the coroutine to the backend's context and back
            return;
        }
        AioContext ctx = context();
        AioContext running = AioContext.current();
        if (running != null && running != ctx && !MainLoop.isMainThread()) {
            throw new IllegalStateException("a blocking request on '" + name + "' (context '" + ctx.name()
                    + "') from the loop thread of context '" + running.name() + "': waiting would stop that loop, "
                    + "and two loops waiting for each other never wake; use the *Async or co* methods there");
        }
        // Refused above before the request starts; the join polls this context or the main loop as it must. The same
        // context as the check: read again, after a move, a loop thread's join was refused with the request running.
        CompletableFuture<Void> future = async(ctx, request);
        try {
            future.join();
        } catch (CompletionException e) {
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            if (e.getCause() instanceof Error err) {
                throw err;
            }
            throw e;
        }
    }

    // ------------------------------------------------------------------ drain and close

    /**
     * Waits until no request of this backend is in flight, with the root node drained meanwhile so nothing new
     * starts (QEMU's {@code blk_drain}). Main loop.
     */
    public void drain() {
        BlockNode node = root.node();
        node.drainedBegin();
        try {
            AioWait.waitWhile(context(), () -> inFlight() > 0);
        } finally {
            node.drainedEnd();
        }
    }

    /**
     * Refuses new requests, drains, unregisters the buffers still registered, detaches the root and closes the
     * nodes this backend opened. Requests that other threads submit meanwhile fail with {@code ENOMEDIUM}, and those
     * already in flight are waited for. Main loop; idempotent: after a failure (a node that cannot close), a
     * repeated call finishes what is left.
     *
     * @throws IllegalStateException off the main loop's thread, or in a coroutine (the backend stays open)
     */
    @Override
    public void close() {
        if (released) {
            return;
        }
        MainLoop.requireMainThread("BlockBackend.close");
        if (Coroutine.inCoroutine()) {
            // A request's completion callback runs in the request's coroutine. There the drain yields to the main
            // loop and returns only when it is polled again: the future was already done, so its waiter went on,
            // and the close stayed half done, its hand-off BH leaked in the main context.
            throw new IllegalStateException("BlockBackend.close of '" + name + "' from a coroutine (a request's "
                    + "completion callback runs in one): close it from plain main-loop code");
        }
        // Before the drain, not after: a request parked by the drain resumes when it ends, and it must find the
        // backend closed instead of reaching a node that is about to close (which refused to close, in flight).
        closed = true;
        drain();
        List<MemorySegment> buffers;
        synchronized (registered) {
            buffers = List.copyOf(registered);
            registered.clear();
        }
        // A closing context has closed its engines, and their registrations with them; unregistering needs a coroutine
        // there, which it no longer runs (close() threw, leaving the backend open with its fd and image lock). Nor
        // can it flush there any more.
        if (!context().isClosing()) {
            for (MemorySegment buffer : buffers) {
                registration(buffer, false);
            }
            flushOnClose();
        }
        BlockNode top = root.node();
        if (!detached) {
            BlockNode.detach(root);
            detached = true;
        }
        if (!ownedNodes.isEmpty()) {
            // The nodes it opened, and filters inserted above them that only it used, close now, top-down; one that
            // another backend still uses closes when that one lets go of it. Closing only the nodes it opened left
            // such a filter open for good. A root that no longer leads to them (BlockGraph.replaceNode put another
            // node there) is not this backend's to close: closing from it closed another's node and left the
            // backend's own open, with its fd and image lock (session 26).
            if (leadsToOwnedNode(top)) {
                top.closeWhenUnused();
            } else {
                for (BlockNode node : ownedNodes) {
                    node.closeWhenUnused();
                }
            }
        }
        released = true;
        OPEN.remove(this);
    }

    /** Whether {@code node} is one this backend opened, or has one below it. Main loop. */
    private boolean leadsToOwnedNode(BlockNode node) {
        if (ownedNodes.contains(node)) {
            return true;
        }
        for (BlockChild edge : node.children()) {
            if (leadsToOwnedNode(edge.node())) {
                return true;
            }
        }
        return false;
    }

    /**
     * Makes what was written through the backend durable before its nodes let go, as QEMU's {@code bdrv_close}
     * flushes: a cleanly closed image is durable (session 26; before, close flushed nothing). A failure is logged, not
     * thrown, as QEMU ignores it: close still releases the fd, the lock and the nodes, and the caller who needs to
     * know flushes first. Nothing written since the last flush: the flush skips the storage.
     */
    private void flushOnClose() {
        int ret = onRootOutsideRequests(BlockNode::coFlush);
        if (ret < 0) {
            System.getLogger(BlockBackend.class.getName()).log(System.Logger.Level.WARNING,
                    "block backend ''{0}'': the flush at close failed ({1}); writes since the last flush may not be"
                            + " durable", name, Errno.symbol(-ret));
        }
    }

    @Override
    public String parentDescription() {
        return "block backend '" + name + "'";
    }

    /** Drained sections the backend is quiesced by. Any thread. */
    public int quiesceCounter() {
        return quiesceCounter.get();
    }

    /**
     * Requests parked by a drained section that have not resumed yet (for tests: a request that waits here has
     * reached its context and will neither start nor fail before the drained section ends). Any thread: read
     * under the parked requests' lock, whose acquire pairs with the release of the request's last unlock.
     */
    int parkedRequests() {
        queuedRequestsLock.lock();
        try {
            return parkedRequests;
        } finally {
            queuedRequestsLock.unlock();
        }
    }

    @Override
    public void childDrainedBegin(BlockChild edge) {
        quiesceCounter.incrementAndGet(); // before the drain polls inFlight(): the Dekker pair of begin()
    }

    @Override
    public void childDrainedEnd(BlockChild edge) {
        // Volatile RMW, then the lock: a woken request re-reads the counter under the same lock and sees 0.
        if (quiesceCounter.decrementAndGet() == 0) {
            queuedRequestsLock.lock();
            try {
                // Each resumes in its own context; one whose context closed meanwhile resumes in the main loop, where
                // drained sections end, and fails (begin()); left parked, its caller waited for ever.
                queuedRequests.restartAll(queuedRequestsLock, MainLoop.context());
            } finally {
                queuedRequestsLock.unlock();
            }
        }
    }

    @Override
    public boolean childDrainedPoll(BlockChild edge) {
        return inFlight() > 0;
    }

    @Override
    public String toString() {
        return "BlockBackend[" + name + " -> " + root.node() + "]";
    }

    // ------------------------------------------------------------------ internals

    /**
     * Entry of every request, on the coroutine {@code self} that {@link #enterContext} brought to the backend's
     * context: counts it in flight, waits while the backend is quiesced by a drained section (QEMU's
     * {@code blk_wait_while_drained}), and takes the block-graph read lock: the single place it is taken, once per
     * request, so that nodes and drivers below never take it themselves. A request that waited (for a drained
     * section or for the graph writer) may find its node moved to another context: it follows it there before it
     * holds the read lock, and once it holds the lock the graph cannot change under it.
     *
     * <p>The in-flight increment (a volatile add) comes before the read of the quiesce counter (volatile), and a
     * drain sets the counter before it polls the in-flight count: one of the two always sees the other, so a
     * request either waits here or is waited for by the drain.
     */
    private ReaderCount begin(Coroutine self) {
        IN_FLIGHT.getAndAdd(this, 1);
        try {
            for (;;) {
                if (quiesceCounter.get() > 0) {
                    waitWhileDrained();
                }
                ReaderCount readers = readLockInContext(self);
                if (readers != null) {
                    return readers;
                }
            }
        } catch (RuntimeException | Error e) {
            // E.g. the backend moved to a context that is closing, or its context closed while the request waited
            // for a drained section, and the coroutine cannot follow it: the request never started, and a drain or
            // close must not wait for it.
            decrementInFlight();
            AioContext ctx = context();
            if (e instanceof IllegalStateException && ctx.isClosing()) {
                throw contextClosing("go on", ctx, e);
            }
            throw e;
        }
    }

    /**
     * Takes the graph read lock in the backend's context: null, holding nothing, when the coroutine first had to
     * move there or the backend moved while it took the lock (the caller tries again).
     */
    private ReaderCount readLockInContext(Coroutine self) {
        AioContext ctx = context();
        if (self.context() != ctx) {
            Coroutine.rescheduleSelf(ctx);
            return null;
        }
        ReaderCount readers = GRAPH.readLock(self, ctx);
        if (self.context() == context()) {
            return readers;
        }
        GRAPH.readUnlock(self, readers);
        return null;
    }

    private void waitWhileDrained() {
        queuedRequestsLock.lock();
        try {
            while (quiesceCounter.get() > 0) {
                decrementInFlight(); // not in flight while queued: the drain must not wait for us
                parkedRequests++;
                try {
                    queuedRequests.await(queuedRequestsLock);
                } finally {
                    parkedRequests--;
                    // In flight again before the counter is re-read (begin()'s Dekker), and if the wait threw, so
                    // that begin() undoes exactly its own increment.
                    IN_FLIGHT.getAndAdd(this, 1);
                }
            }
        } finally {
            queuedRequestsLock.unlock();
        }
    }

    /** Exit of every request: releases the read lock; the drop to zero in flight kicks a waiting drain. */
    private void end(Coroutine self, ReaderCount readers) {
        GRAPH.readUnlock(self, readers);
        decrementInFlight();
    }

    private void decrementInFlight() {
        if ((int) IN_FLIGHT.getAndAdd(this, -1) == 1) {
            // Volatile decrement, then a volatile read of the waiter count: pairs with the waiter's volatile
            // registration in AioWait.waitWhile and its volatile read of inFlight (see kickAfterVolatileWrite).
            AioWait.kickAfterVolatileWrite();
        }
    }

    /**
     * Moves the calling coroutine to the backend's context if it runs elsewhere; returns the context it came
     * from, for {@link #leaveContext}. Contexts are read from the coroutine, never from the thread: compiled code
     * may keep a thread identity read before the coroutine last moved.
     */
    private AioContext enterContext(Coroutine self) {
        AioContext origin = self.context();
        AioContext ctx = context();
        if (origin != ctx) {
            Coroutine.rescheduleSelf(ctx);
        }
        return origin;
    }

    /**
     * {@code qiov} as the backend's loop thread may use it, for a coroutine that comes from another context and
     * waits there for the request ({@link CallerBuffers}); the coroutine's context names its thread, as in
     * {@link #enterContext}. In the backend's own context (every request of a benchmark) it is {@code qiov}, once no
     * segment turned out to be a third thread's.
     */
    private IoVector lendFromOtherContext(Coroutine self, IoVector qiov) {
        return CallerBuffers.lend(qiov, threadOf(self), context().homeThread());
    }

    /** Moves the calling coroutine back to {@code origin} (if it ran in one) after a request. */
    private static void leaveContext(Coroutine self, AioContext origin) {
        if (origin != null && self.context() != origin) {
            Coroutine.rescheduleSelf(origin);
        }
    }

    /** Why a request cannot {@code start} or {@code go on}: {@code ctx}, the backend's context, is closing. */
    private IllegalStateException contextClosing(String what, AioContext ctx, Throwable cause) {
        return new IllegalStateException("a request on '" + name + "' cannot " + what + ": its context '" + ctx.name()
                + "' is closing (its IOThread stopped); close the backend, or move it to a running context", cause);
    }

    private static Coroutine requireCoroutine() {
        Coroutine self = Coroutine.self();
        if (self == null) {
            throw new IllegalStateException("BlockBackend co* methods must be called from a coroutine; use the "
                    + "blocking or *Async methods from plain code");
        }
        return self;
    }

    private int checkRange(long offset, long bytes) {
        if (closed) {
            return -Errno.ENOMEDIUM;
        }
        if (offset < 0 || bytes < 0) {
            return -Errno.EINVAL;
        }
        long size = length();
        if (offset > size || bytes > size - offset) {
            return -Errno.EIO;
        }
        return 0;
    }

    private void check(String op, long offset, long bytes, int ret) {
        if (ret == 0) {
            return;
        }
        if (ret == -Errno.ENOMEDIUM && closed) {
            throw new BlockIoException(Errno.ENOMEDIUM, op + " on '" + name + "': the backend is closed");
        }
        long size = length();
        if (ret == -Errno.EIO && offset >= 0 && bytes >= 0 && (offset > size || bytes > size - offset)) {
            throw new BlockIoException(Errno.EIO, op + " of " + bytes + " bytes at offset " + offset
                    + " is past the end of '" + name + "' (size " + size + " bytes)");
        }
        if (ret == -Errno.EINVAL && (offset < 0 || bytes < 0)) {
            throw new BlockIoException(Errno.EINVAL, op + " with offset " + offset + " and length " + bytes
                    + " on '" + name + "': offset and length must not be negative");
        }
        if (ret == -Errno.EPERM && readOnly) {
            throw new BlockIoException(Errno.EPERM, op + " on '" + name + "': the image is read-only");
        }
        boolean carriesData = switch (op) {
            case "read", "write", "readv", "writev" -> true;
            default -> false; // discard and write-zeroes split themselves: no limit
        };
        if (ret == -Errno.EINVAL && carriesData && bytes > BlockNode.MAX_REQUEST_BYTES) {
            throw new BlockIoException(Errno.EINVAL, op + " of " + bytes + " bytes at offset " + offset + " on '"
                    + name + "': larger than the largest request, " + BlockNode.MAX_REQUEST_BYTES + " bytes");
        }
        throw BlockIoException.of(op + " of " + bytes + " bytes at offset " + offset + " on '" + name + "' failed", ret);
    }
}
