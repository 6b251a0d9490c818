package io.blockloop.fdmon;

import io.blockloop.ffm.errno.NativeCallException;
import io.blockloop.ffm.libc.Poll;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Set;

/**
 * The {@code ppoll(2)} monitor (QEMU's {@code fdmon-poll.c}): every wait hands the kernel the whole set of
 * registered fds, with a nanosecond timeout.
 *
 * <p>The set is a copy-on-write array of nodes, replaced by {@link #update} under this object's lock. The
 * {@code struct pollfd} array and its parallel node array are rebuilt by {@link #wait} only when the set
 * changed since the last wait (identity of the published array), and grow by doubling; a wait in steady state
 * allocates nothing and touches no lock.
 *
 * <p>Threads: {@link #update} any thread (serialised by {@code synchronized}); {@link #wait}, {@link #needWait},
 * {@link #close} the home thread. Memory ordering: {@link #update} publishes the new node array with a release
 * store; {@link #wait} reads it with an acquire load, so a wait sees fully built arrays and every field of the
 * nodes in them.
 */
public final class PollFdMonitor implements FdMonitor {
    private static final VarHandle NODES;
    private static final int INITIAL_CAPACITY = 8;

    static {
        try {
            NODES = MethodHandles.lookup().findVarHandle(PollFdMonitor.class, "nodes", FdNode[].class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** Registered nodes; replaced (never mutated) under {@code this} lock, read through {@link #NODES}. */
    @SuppressWarnings("unused") // accessed through NODES
    private FdNode[] nodes = new FdNode[0];

    private final Arena arena = Arena.ofShared();
    // ---- home thread only ----
    private MemorySegment pollfds;
    private FdNode[] polled = new FdNode[INITIAL_CAPACITY];
    private int polledCount;
    private FdNode[] builtFrom;
    /** Nodes whose fd was closed under them ({@code POLLNVAL}): reported once, then left out of the waits. */
    private final Set<FdNode> closedUnder = Collections.newSetFromMap(new IdentityHashMap<>());
    /** Any thread: close()'s volatile store pairs with the loads in update(), wait() and a second close(). */
    private volatile boolean closed;
    private final WaitsInProgress waits = new WaitsInProgress();

    public PollFdMonitor() {
        pollfds = arena.allocate(Poll.POLLFD_SIZE * INITIAL_CAPACITY, 8);
    }

    @Override
    public FdMonitorKind kind() {
        return FdMonitorKind.POLL;
    }

    @Override
    public String name() {
        return "poll";
    }

    @Override
    public synchronized void update(FdNode oldNode, FdNode newNode) {
        if (closed) { // a closed monitor takes no node: it would never be released
            throw new IllegalStateException("poll fd monitor is closed");
        }
        FdNode.checkNotSelfReplacement(oldNode, newNode);
        FdNode[] current = nodesAcquire();
        FdNode[] next;
        if (oldNode != null) {
            int at = indexOf(current, oldNode);
            if (at < 0) {
                oldNode.checkAddedTo(this); // never ours: refused, as by io_uring
                if (newNode == null) {
                    return; // removed already: removing it again changes nothing, as on io_uring
                }
                throw new IllegalArgumentException(oldNode + " was removed or replaced already: it cannot be replaced"
                        + " again");
            }
            if (newNode != null) {
                newNode.claimFor(this); // after the check of oldNode: a refused update changes nothing
                next = current.clone();
                next[at] = newNode;
            } else {
                next = new FdNode[current.length - 1];
                System.arraycopy(current, 0, next, 0, at);
                System.arraycopy(current, at + 1, next, at, current.length - at - 1);
            }
        } else if (newNode != null) {
            newNode.claimFor(this);
            next = Arrays.copyOf(current, current.length + 1);
            next[current.length] = newNode;
        } else {
            return;
        }
        // Release pairs with the acquire in wait(): the array and its nodes are complete when a wait sees them.
        NODES.setRelease(this, next);
        if (oldNode != null) {
            oldNode.markReleasedRelease();
        }
    }

    private static int indexOf(FdNode[] array, FdNode node) {
        for (int i = 0; i < array.length; i++) {
            if (array[i] == node) {
                return i;
            }
        }
        return -1;
    }

    private FdNode[] nodesAcquire() {
        // Pairs with the release stores of the array in update() and close().
        return (FdNode[]) NODES.getAcquire(this);
    }

    /** The current node set (read-only snapshot, acquire). Used by the epoll monitor to upgrade. Any thread. */
    FdNode[] snapshotAcquire() {
        return nodesAcquire();
    }

    /** How many nodes are registered (acquire). Any thread. */
    public int registeredCount() {
        return nodesAcquire().length;
    }

    /**
     * Whether a {@link #wait} is running on the home thread, from before it can block until it returns (for tests).
     * Any thread; see {@link WaitsInProgress#inProgress()}.
     */
    boolean waitInProgress() {
        return waits.inProgress();
    }

    @Override
    public int wait(long timeoutNs, ReadySink sink, boolean nested) {
        waits.enter();
        try {
            return waitInside(timeoutNs, sink, nested);
        } finally {
            waits.exit();
        }
    }

    private int waitInside(long timeoutNs, ReadySink sink, boolean nested) {
        if (closed) {
            throw new IllegalStateException("poll fd monitor is closed");
        }
        FdNode[] current = nodesAcquire();
        if (current != builtFrom) {
            rebuild(current);
        }
        int n = polledCount;
        int r = Poll.ppollOrErrno(pollfds, n, timeoutNs); // an interrupted wait answers what is ready, not EINTR
        if (r < 0) {
            throw new NativeCallException("ppoll", -r, n + " fds");
        }
        int reported = 0;
        for (int i = 0; i < n && reported < r; i++) {
            int revents = Poll.revents(pollfds, i) & 0xffff;
            if (revents != 0) {
                FdNode node = polled[i];
                if ((revents & Poll.POLLNVAL) != 0) {
                    revents = leaveOut(node);
                }
                sink.ready(node, revents);
                reported++;
            }
        }
        return reported;
    }

    /**
     * The fd of {@code node} was closed while registered: poll reports {@code POLLNVAL} on every wait, and the
     * loop, which dispatches only the events a handler asked for, spun at 100 % CPU without telling anyone. As
     * the io_uring monitor does: a warning, one report as an error (the read callback runs and meets EBADF), and
     * no more waits on it until its handler is replaced or removed.
     */
    private int leaveOut(FdNode node) {
        System.getLogger(PollFdMonitor.class.getName()).log(System.Logger.Level.WARNING,
                "fd {0} was closed while registered with the poll monitor; it is no longer polled", node.fd());
        closedUnder.add(node);
        builtFrom = null; // rebuilt without it before the next wait
        return Poll.POLLERR | Poll.POLLNVAL;
    }

    private void rebuild(FdNode[] current) {
        if (!closedUnder.isEmpty()) {
            closedUnder.retainAll(Arrays.asList(current)); // a replaced or removed handler is forgotten
        }
        int n = 0;
        for (FdNode node : current) {
            if (polls(node)) {
                n++;
            }
        }
        if (n > polled.length) {
            int capacity = Math.max(polled.length * 2, n);
            polled = new FdNode[capacity];
            pollfds = arena.allocate(Poll.POLLFD_SIZE * capacity, 8);
        } else if (polledCount > n) {
            Arrays.fill(polled, n, polledCount, null);
        }
        int i = 0;
        for (FdNode node : current) {
            if (polls(node)) {
                polled[i] = node;
                Poll.set(pollfds, i, node.fd(), (short) node.events());
                i++;
            }
        }
        polledCount = n;
        builtFrom = current;
    }

    private boolean polls(FdNode node) {
        return node.events() != 0 && !closedUnder.contains(node);
    }

    @Override
    public boolean needWait(boolean someHandlerCannotPoll) {
        return someHandlerCannotPoll;
    }

    @Override
    public boolean seesReadinessWithoutWaiting() {
        return false;
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        waits.checkNotWaiting("poll fd monitor");
        closed = true;
        FdNode[] current;
        synchronized (this) {
            current = nodesAcquire();
            NODES.setRelease(this, new FdNode[0]); // release, as in update(): pairs with nodesAcquire()
        }
        for (FdNode node : current) {
            node.markReleasedRelease();
        }
        Arrays.fill(polled, null);
        builtFrom = null;
        arena.close();
    }

    @Override
    public String toString() {
        return "PollFdMonitor[" + registeredCount() + " fds]";
    }
}
