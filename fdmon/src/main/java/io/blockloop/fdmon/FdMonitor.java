package io.blockloop.fdmon;

import io.blockloop.ffm.call.Availability;
import io.blockloop.ffm.errno.NativeCallException;

/**
 * The readiness side of an event loop (QEMU's {@code FDMonOps}): it is told which fds exist
 * ({@link #update}), blocks until some are ready or a timeout passes ({@link #wait}), and tells a
 * busy-polling loop when it must stop spinning and wait ({@link #needWait}).
 *
 * <p>One monitor belongs to one event loop context. Its <em>home thread</em> is the thread that runs that
 * loop; it alone calls {@link #wait}, {@link #needWait} and {@link #close}.
 *
 * <h2>Threads and memory ordering</h2>
 * <ul>
 *   <li>{@link #update} may be called from any thread, concurrently with {@link #wait} on the home thread and
 *       with other updates. The caller must serialise updates <em>of the same fd</em> (the loop does it under
 *       its handler lock) and must wake the home thread afterwards (the loop's notify), because a wait that is
 *       already blocked does not necessarily see the change. Each monitor publishes its own state with release
 *       stores that its wait reads with acquire loads (see the implementations).</li>
 *   <li>{@link #name()}, {@link #kind()} may be called from any thread.</li>
 * </ul>
 *
 * <p>Readiness is level-triggered, as with {@code poll(2)}: an fd that stays ready is reported by every wait
 * until the owner consumes the condition. A ready report may name a node that was replaced or removed just
 * before: the loop checks its own "deleted" flag, set before it calls {@link #update} (blockcore's
 * {@code FdHandler.isDeletedAcquire()}), not {@link FdNode#isReleased()}. A wait that starts after the
 * {@code update} that removed or replaced a node returned never reports it. A wait that overlaps that update (another
 * thread's update during the wait) may still report it once, and poll and epoll release a node at once, inside
 * {@code update}: that report may name a {@linkplain FdNode#isReleased() released} node. io_uring releases nodes
 * inside its waits, after their last completion, and never reports a released one. Releasing poll's nodes only at
 * the next wait would cost every wait a check for nodes to release, for a guarantee no caller uses.
 */
public sealed interface FdMonitor extends AutoCloseable permits PollFdMonitor, EpollFdMonitor, IoUringFdMonitor {

    /**
     * Opens the monitor {@code kind} asks for. {@link FdMonitorKind#AUTO} tries io_uring, then epoll, then
     * poll, falling back when a monitor is unavailable or fails to start (e.g. {@code io_uring_setup} refused by
     * seccomp or memlock limits).
     *
     * @throws IllegalStateException naming the reason when an explicitly requested monitor is unavailable
     * @throws NativeCallException   when an available monitor fails to start (not for AUTO, which falls back)
     */
    static FdMonitor open(FdMonitorKind kind) {
        return switch (kind) {
            case POLL -> new PollFdMonitor();
            case EPOLL -> EpollFdMonitor.open();
            case IO_URING -> IoUringFdMonitor.open();
            case AUTO -> openAuto();
        };
    }

    private static FdMonitor openAuto() {
        if (IoUringFdMonitor.availability().available()) {
            try {
                return IoUringFdMonitor.open();
            } catch (NativeCallException | IllegalStateException e) {
                System.getLogger(FdMonitor.class.getName()).log(System.Logger.Level.DEBUG,
                        "io_uring fd monitor failed to start, falling back to epoll: {0}", e.getMessage());
            }
        }
        Availability epoll = EpollFdMonitor.availability();
        if (epoll.available()) {
            return EpollFdMonitor.open();
        }
        return new PollFdMonitor();
    }

    /** What was asked for: {@link FdMonitorKind#POLL}, {@link FdMonitorKind#EPOLL} or {@link FdMonitorKind#IO_URING}. Any thread. */
    FdMonitorKind kind();

    /**
     * The mechanism the next wait uses: {@code "poll"}, {@code "epoll"} or {@code "io_uring"}. An epoll monitor
     * says {@code "poll"} until it has upgraded itself (64 fds) and again after a permanent fallback. Any thread.
     */
    String name();

    /**
     * A handler was added ({@code oldNode == null}), changed (both set; same fd) or removed
     * ({@code newNode == null}). Any thread; see the class comment for the serialisation and wake-up the caller
     * owes. A wait already in progress may still report {@code oldNode} once, even after the monitor released it
     * (poll, epoll: at once, here); a wait that starts after this call returns never does.
     *
     * @throws IllegalArgumentException when {@code oldNode == newNode} (a change is a new node), or when
     *                                  {@code newNode} was added before, to this or another monitor, whether it is
     *                                  still registered or was removed, replaced or released since (a node is added
     *                                  once in its life); nothing changes
     * @throws IllegalStateException    after {@link #close()}
     */
    void update(FdNode oldNode, FdNode newNode);

    /**
     * Blocks until at least one registered fd is ready or {@code timeoutNs} passes, reports each ready node to
     * {@code sink}, and returns how many it reported. Home thread only.
     *
     * @param timeoutNs {@code < 0}: no timeout; {@code 0}: do not block; otherwise nanoseconds (kept exact,
     *                  not rounded to milliseconds)
     * @param sink      receives (node, revents) for each ready node; must only record them
     * @param nested    whether this wait runs inside a callback of an outer wait of the same loop (nested
     *                  event loop); a monitor never changes mechanism while nested
     */
    int wait(long timeoutNs, ReadySink sink, boolean nested);

    /**
     * Whether a busy-polling loop must stop spinning now and call {@link #wait}. Home thread only.
     *
     * @param someHandlerCannotPoll the loop has a handler without a userspace poll callback. A monitor that
     *                              cannot see fd readiness without a system call (poll, epoll) must then answer
     *                              true, or that handler's fd would be starved while the loop spins.
     */
    boolean needWait(boolean someHandlerCannotPoll);

    /**
     * Whether this monitor sees fd readiness from userspace, without a system call (io_uring: completions appear
     * in the shared CQ ring), so busy polling stays correct even with handlers that cannot poll, and polled
     * handlers that stay idle may be dropped from the polling set. Any thread.
     */
    boolean seesReadinessWithoutWaiting();

    /**
     * Before a busy poll: hands work queued for the kernel to it now, without waiting, so the poll can see its
     * completions (io_uring: SQEs that the next {@link #wait} would otherwise submit). Returns whether it
     * submitted anything. Monitors that queue nothing (poll, epoll) do nothing. Home thread only.
     */
    default boolean submitBeforePolling() {
        return false;
    }

    /** Releases the monitor's kernel objects. Home thread, after the last {@link #wait}; idempotent. */
    @Override
    void close();
}
