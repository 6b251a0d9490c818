package io.blockloop.fdmon;

import io.blockloop.ffm.libc.Poll;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * One registered file descriptor as an {@link FdMonitor} sees it: the fd, the readiness it is interested in
 * ({@code POLL*} bits), an opaque owner (the event loop's handler object, which fdmon never looks into) and the
 * state a monitor keeps per fd.
 *
 * <p>A node is immutable from the loop's point of view: changing the callbacks or the event mask of an fd
 * means a <em>new</em> node that replaces the old one through {@link FdMonitor#update(FdNode, FdNode)}
 * (copy-on-write, as QEMU's {@code aio_set_fd_handler} does). A node that was replaced or removed is
 * {@linkplain #isReleased() released} once its monitor no longer refers to it: at once for poll and epoll,
 * only after the kernel has posted the last completion for it for io_uring. Released does not mean "never reported
 * again": a poll or epoll wait that was already running when the node was removed may still report it once (see
 * {@link FdMonitor}); a removed node's owner checks a flag of its own. A node is added once in its life, to
 * one monitor: adding it again, removed or not, is refused ({@link FdMonitor#update}).
 *
 * <p>Threads: {@link #fd()}, {@link #events()}, {@link #owner()} and {@link #isReleased()} may be called from
 * any thread. The monitor-private fields below are package-private and documented with the monitor that uses
 * them.
 *
 * <p>Memory ordering: the final fields are safely published by construction. {@link #isReleased()} is an
 * acquire load pairing with the release store in {@link #markReleasedRelease()}, so whoever sees a node
 * released also sees every write the monitor made before releasing it.
 */
public final class FdNode {
    /** The events a read handler waits for: readable, hung up or in error (QEMU's {@code G_IO_IN|HUP|ERR}). */
    public static final int READ_EVENTS = Poll.POLLIN | Poll.POLLHUP | Poll.POLLERR;
    /** The events a write handler waits for: writable or in error ({@code G_IO_OUT|ERR}). */
    public static final int WRITE_EVENTS = Poll.POLLOUT | Poll.POLLERR;
    /**
     * Every bit a node's events may have: {@code POLLIN}, {@code POLLPRI}, {@code POLLOUT}, {@code POLLERR},
     * {@code POLLHUP} and {@code POLLRDHUP}, which {@code poll(2)}, epoll and io_uring's {@code POLL_ADD} all read
     * alike (each has an {@code EPOLL*} twin of the same value).
     */
    public static final int WATCHABLE_EVENTS = Poll.POLLIN | Poll.POLLPRI | Poll.POLLOUT | Poll.POLLERR | Poll.POLLHUP
            | Poll.POLLRDHUP;

    private static final VarHandle RELEASED;
    private static final VarHandle RING_FLAGS;
    private static final VarHandle ADDED_TO;

    static {
        try {
            MethodHandles.Lookup lookup = MethodHandles.lookup();
            RELEASED = lookup.findVarHandle(FdNode.class, "released", boolean.class);
            RING_FLAGS = lookup.findVarHandle(FdNode.class, "ringFlags", int.class);
            ADDED_TO = lookup.findVarHandle(FdNode.class, "addedTo", Object.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final int fd;
    private final int events;
    private final Object owner;
    @SuppressWarnings("unused") // accessed through RELEASED
    private boolean released;
    /**
     * The monitor that took this node as a new node, or null: set once, by the compare-and-set in
     * {@link #claimFor}, from whichever thread calls {@code update}; never cleared, so a node is added once in its
     * life (a removed or replaced node cannot come back). Through {@link #ADDED_TO} only.
     */
    @SuppressWarnings("unused") // accessed through ADDED_TO
    private Object addedTo;

    // ---- io_uring monitor state (IoUringFdMonitor) ----
    /** {@code IoUringFdMonitor.PENDING|ADD|REMOVE}; any thread, through {@link #RING_FLAGS} atomics only. */
    @SuppressWarnings("unused") // accessed through RING_FLAGS
    private int ringFlags;
    /** Link in the monitor's lock-free list of pending changes; written before the CAS that publishes it. */
    FdNode ringNext;
    /** Slot in the monitor's user_data table, or -1; home thread only. */
    int ringSlot = -1;
    /** user_data of this node's POLL_ADD; home thread only. */
    long ringUserData;
    /** A POLL_ADD for this node is in the SQ or in the kernel; home thread only. */
    boolean ringArmed;
    /** The number of the last wait that reported this node ({@code IoUringFdMonitor.waitNumber}); home thread only. */
    int ringReportedInWait;
    /** A POLL_REMOVE for this node was queued; home thread only. */
    boolean ringRemoveQueued;

    /**
     * @param fd     the file descriptor, owned by the caller (a monitor never closes it)
     * @param events the {@code POLL*} events of interest, e.g. {@link #READ_EVENTS}{@code |}{@link #WRITE_EVENTS}:
     *               bits of {@link #WATCHABLE_EVENTS} only; 0 means "registered but not watched"
     * @param owner  what the loop wants back when the fd is ready (its handler object); may be null
     * @throws IllegalArgumentException when {@code fd} is negative, or {@code events} has a bit outside
     *                                  {@link #WATCHABLE_EVENTS} (the message names the value): the poll monitor
     *                                  dropped the high bits and epoll passed them on, so an {@code EPOLLET} made
     *                                  that fd edge-triggered on epoll alone, breaking the level-triggered contract
     */
    public FdNode(int fd, int events, Object owner) {
        if (fd < 0) {
            throw new IllegalArgumentException("negative fd " + fd);
        }
        if ((events & ~WATCHABLE_EVENTS) != 0) {
            throw new IllegalArgumentException("events 0x" + Integer.toHexString(events) + " of fd " + fd
                    + " have bits outside FdNode.WATCHABLE_EVENTS (0x" + Integer.toHexString(WATCHABLE_EVENTS)
                    + "): 0x" + Integer.toHexString(events & ~WATCHABLE_EVENTS));
        }
        this.fd = fd;
        this.events = events;
        this.owner = owner;
    }

    /** The events for a handler with a read and/or a write callback. */
    public static int eventsFor(boolean read, boolean write) {
        return (read ? READ_EVENTS : 0) | (write ? WRITE_EVENTS : 0);
    }

    public int fd() {
        return fd;
    }

    public int events() {
        return events;
    }

    public Object owner() {
        return owner;
    }

    /**
     * The check every monitor's {@code update} runs before it changes anything: a node cannot replace itself, nor
     * one on another fd.
     * {@code update(n, n)} left poll and epoll with {@code n} registered but marked released, while io_uring added
     * and removed it. Any thread.
     *
     * @throws IllegalArgumentException when {@code oldNode} and {@code newNode} are the same (non-null) node, or
     *                                  nodes of two fds
     */
    static void checkNotSelfReplacement(FdNode oldNode, FdNode newNode) {
        if (oldNode == newNode && newNode != null) {
            throw new IllegalArgumentException(newNode + " given as both the old and the new node: a change of the"
                    + " callbacks or the mask is a new node");
        }
        if (oldNode != null && newNode != null && oldNode.fd() != newNode.fd()) {
            // Epoll watched the new fd and never dropped the old one, and reported the released old node on every
            // wait while its fd was ready (session 26).
            throw new IllegalArgumentException(newNode + " cannot replace " + oldNode + ": a change keeps the fd;"
                    + " remove the old node and add the new one");
        }
    }

    /**
     * The check of the old node of an {@code update}: it must be a node {@code monitor} took. Any thread (a volatile
     * load of the monitor the node was added to, set once by {@link #claimFor}).
     *
     * @throws IllegalArgumentException when {@code monitor} never took this node (it was never added, or added to
     *                                  another monitor, whose state for it the removal would have changed)
     */
    void checkAddedTo(Object monitor) {
        Object addedTo = ADDED_TO.getVolatile(this);
        if (addedTo != monitor) {
            throw new IllegalArgumentException(this + (addedTo == null ? " was never added" : " belongs to another"
                    + " monitor") + ": it cannot be removed or replaced here");
        }
    }

    /**
     * Takes this node for {@code monitor} as the new node of an {@code update}, which calls it after every other
     * check, just before the node becomes registered. A node is added once, to one monitor: adding it twice made
     * poll keep two copies (one removal left the other polled, and reported while released) and epoll's second
     * {@code EPOLL_CTL_ADD} fail with {@code EEXIST} (back to poll for good); a removed or replaced node added again
     * was never reported by io_uring and reported while released by poll and epoll. Any thread: a volatile
     * compare-and-set, so two threads adding the same node cannot both succeed (it costs an update one atomic, a wait
     * nothing).
     *
     * @throws IllegalArgumentException when the node was added before, to this or another monitor (released since or
     *                                  not)
     */
    void claimFor(Object monitor) {
        if (!ADDED_TO.compareAndSet(this, (Object) null, monitor)) {
            throw new IllegalArgumentException(this + (isReleased()
                    ? " was removed or replaced (released): a node is added once; register the fd with a new node"
                    : " is already registered" + (ADDED_TO.getVolatile(this) == monitor ? "" : " with another monitor")
                            + ": a node is added once"));
        }
    }

    /** Whether the monitor holding this node has let go of it for good (acquire). Any thread. */
    public boolean isReleased() {
        return (boolean) RELEASED.getAcquire(this);
    }

    /** Marks the node released; pairs with the acquire in {@link #isReleased()}. The releasing monitor only. */
    void markReleasedRelease() {
        RELEASED.setRelease(this, true);
    }

    /** Atomically ORs {@code bits} into the io_uring flags; returns the previous flags (volatile). */
    int ringFlagsGetAndOr(int bits) {
        return (int) RING_FLAGS.getAndBitwiseOr(this, bits);
    }

    /** Atomically clears {@code bits} from the io_uring flags; returns the previous flags (volatile). */
    int ringFlagsGetAndClear(int bits) {
        return (int) RING_FLAGS.getAndBitwiseAnd(this, ~bits);
    }

    /** The io_uring flags (acquire; pairs with the volatile read-modify-writes above). */
    int ringFlagsAcquire() {
        return (int) RING_FLAGS.getAcquire(this);
    }

    @Override
    public String toString() {
        return "FdNode[fd=" + fd + ", events=0x" + Integer.toHexString(events) + "]";
    }
}
