package io.blockloop.block;

import io.blockloop.aio.AioContext;
import io.blockloop.block.graph.GraphReadLocked;

import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * The driver half of one {@link BlockNode} (QEMU's {@code BlockDriver} callbacks together with the node's
 * {@code opaque} state): one instance per node, created open by the driver's {@code open} factory.
 *
 * <p>Implementations: {@code FileDriver} (protocol: regular file or block device), {@code RawDriver} (format:
 * an offset/size window on its child), {@code NullDriver} (no storage), and the filters
 * ({@code io.blockloop.block.filter.FilterDriver}: error injection, throttling). The set is closed in spirit; it
 * is not a {@code sealed} interface only because sealed types must share a package on the class path.
 *
 * <h2>Contract</h2>
 * <ul>
 *   <li>The I/O methods ({@code co*}) run in a coroutine on the home thread of the node's {@link AioContext},
 *       called only by {@link BlockNode}'s generic request path, which has already checked the range, counted the
 *       request in flight, padded it to {@link #limits()}{@code .requestAlignment()} and serialised it against
 *       overlapping read-modify-write cycles. They may yield. They return 0 on success or a negative errno; they
 *       throw only for bugs.</li>
 *   <li>Reads and writes are within {@link #length()} rounded up to the request alignment, at most
 *       {@link BlockLimits#maxTransfer()} long; buffers may be misaligned in memory (the driver bounces them if it
 *       must).</li>
 *   <li>{@link #attachContext}, {@link #detachContext} and {@link #close} are global-state code (main loop)
 *       and run only while the node has no request in flight.</li>
 * </ul>
 */
public interface BlockDriver {
    /** The driver's name as {@code qemu-io info} prints it: {@code file}, {@code host_device}, {@code raw}, {@code null-co}. */
    String formatName();

    /**
     * Whether this driver passes requests through to its one child (QEMU's {@code is_filter}): only such a node may
     * be removed from between its parents and its child ({@code BlockGraph.removeFilter}).
     */
    default boolean isFilter() {
        return false;
    }

    /** Length of the node in bytes. Any thread (the value is fixed while the node is open). */
    long length();

    /** Alignment and transfer limits of this node's requests. Any thread. */
    BlockLimits limits();

    /** The {@link RequestFlags} the driver honours on writes itself; others are emulated (FUA by a flush). */
    int supportedWriteFlags();

    /** Reads {@code bytes} at {@code offset} into {@code qiov} (whose size is {@code bytes}). */
    @GraphReadLocked
    int coPreadv(long offset, long bytes, IoVector qiov, int flags);

    /** Writes {@code qiov} ({@code bytes} long) at {@code offset}. */
    @GraphReadLocked
    int coPwritev(long offset, long bytes, IoVector qiov, int flags);

    /** Makes every completed write durable. */
    @GraphReadLocked
    int coFlush();

    /** Deallocates the range if the storage can (advisory): {@code -ENOTSUP} when it cannot. */
    @GraphReadLocked
    int coPdiscard(long offset, long bytes);

    /**
     * Makes the range read back as zeroes without a data buffer, or returns {@code -ENOTSUP} so the generic path
     * writes a buffer of zeroes (unless {@link RequestFlags#NO_FALLBACK}). {@code flags} never holds
     * {@link RequestFlags#FUA}: the node emulates it with {@link #coFlush()} after the zero-write.
     */
    @GraphReadLocked
    int coPwriteZeroes(long offset, long bytes, int flags);

    /**
     * The edges to the nodes this driver reads and writes (a format's {@code file}), created with
     * {@link BlockNode#attachForNewParent} before the driver; the node adopts them when it is built. Any thread.
     */
    default List<BlockChild> children() {
        return List.of();
    }

    /**
     * {@code buffer} will carry many requests (QEMU's {@code bdrv_register_buf}): a driver that can pin it once for
     * its I/O does, and answers whether it did. {@link BlockNode#registerBuffer} offers it to the children as well.
     * Home thread of the node's context, graph read lock held. Default: nothing, false.
     */
    @GraphReadLocked
    default boolean registerBuffer(MemorySegment buffer) {
        return false;
    }

    /** Undoes {@link #registerBuffer}; answers whether the buffer was registered. Same threads. Default: false. */
    @GraphReadLocked
    default boolean unregisterBuffer(MemorySegment buffer) {
        return false;
    }

    /**
     * The node entered its first drained section (QEMU's {@code bdrv_drain_begin}): stop internal activity that
     * would issue requests. Main loop; must not poll. Default: nothing.
     */
    default void drainBegin() {
    }

    /** The node left its last drained section (QEMU's {@code bdrv_drain_end}). Main loop. Default: nothing. */
    default void drainEnd() {
    }

    /**
     * The node moves to {@code ctx} (it was detached first). Main loop, node drained. By default nothing: a driver
     * that keeps nothing per context (a format or filter's child node moves on its own) need not implement it, as
     * QEMU's {@code bdrv_attach_aio_context} is optional.
     */
    default void attachContext(AioContext ctx) {
    }

    /**
     * The node leaves its current context: release per-context resources. Main loop, node drained. By default
     * nothing.
     */
    default void detachContext() {
    }

    /** Extra lines for {@code blockloop io -c info}: {@code "key: value"}. Any thread. */
    List<String> describe();

    /** Releases the driver's resources (fds, locks). Main loop, no request in flight; idempotent. */
    void close();
}
