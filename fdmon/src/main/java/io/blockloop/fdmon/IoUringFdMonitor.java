package io.blockloop.fdmon;

import io.blockloop.ffm.call.Availability;
import io.blockloop.ffm.errno.Errno;
import io.blockloop.ffm.errno.NativeCallException;
import io.blockloop.ffm.liburing.IoUringOpcodes;
import io.blockloop.ffm.liburing.IoUringProbe;
import io.blockloop.ffm.liburing.IoUringRing;
import io.blockloop.ffm.liburing.Sqe;
import io.blockloop.ffm.liburing.generated.LibUring;
import io.blockloop.ffm.libc.Poll;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Arrays;
import java.util.Objects;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The io_uring monitor (QEMU's {@code fdmon-io_uring.c}): one ring per context, one one-shot
 * {@code IORING_OP_POLL_ADD} in flight per registered fd, re-armed after each completion; removal by
 * {@code IORING_OP_POLL_REMOVE}; a timed wait as an {@code IORING_OP_TIMEOUT} with count 1 (it completes at the
 * deadline or as soon as any other completion is posted). No multishot polls: their edge-triggered behaviour
 * does not fit the loop's level-triggered contract.
 *
 * <h2>Changes are queued, applied in wait</h2>
 * {@link #update} never touches the ring (it belongs to the home thread): it sets {@code ADD} on the new node and
 * {@code REMOVE} on the old one and pushes each onto a lock-free list (at most once, guarded by {@code PENDING}).
 * The next {@link #wait} takes the whole list and turns it into SQEs. A removed node keeps its slot in the
 * user_data table until the kernel has posted the last completion of its POLL_ADD (cancelled or fired); only
 * then is it {@linkplain FdNode#isReleased() released} and its slot reused (with a new generation number in
 * the upper half of user_data, so a stale POLL_REMOVE can never hit the slot's next owner).
 *
 * <h2>Sharing the ring</h2>
 * {@link #share} lends the ring to one client, an I/O engine of the same loop ({@link SharedRing}, QEMU's
 * {@code aio_add_sqe}): its SQEs go to the kernel with the loop's next wait, its CQEs (user_data bit 63) go to its
 * {@link RingClient}, and a handler registered on the ring fd itself stands for "the client has completions": it
 * is never polled, only reported readable after a wait that reaped client CQEs. {@link SharedRing#awaitCompletions}
 * reaps outside a wait: the polls it reaps are not re-armed there (that would make it spin on an fd that stays
 * ready) but kept for the next wait, which re-arms them, so their readiness is reported then (level-triggered).
 *
 * <h2>Threads and memory ordering</h2>
 * {@link #update} any thread, lock-free. Everything else the home thread, which is the ring's only submitter.
 * The per-node flags are changed with volatile read-modify-writes ({@code getAndBitwiseOr/And}); the pending
 * list head with a volatile compare-and-set that publishes the node's {@code ringNext} written just before it,
 * and the home thread takes the list with a volatile {@code getAndSet}, so it sees every node's link and flags.
 * The home thread reads a node's link <em>before</em> clearing {@code PENDING}, since clearing it lets another
 * thread push the node again and overwrite the link. The ring's own barriers (SQ tail release, CQ tail acquire,
 * CQ head release) are in {@link IoUringRing}.
 */
public final class IoUringFdMonitor implements FdMonitor {
    /** SQ size (the CQ gets twice as many), as QEMU's {@code FDMON_IO_URING_ENTRIES}. */
    public static final int ENTRIES = 128;

    static final int PENDING = 1;
    static final int ADD = 1 << 1;
    static final int REMOVE = 1 << 2;
    /**
     * A slot's generation goes into bits 32..62 of user_data: bit 63 is {@link SharedRing#CLIENT_TAG}, which the
     * monitor's own user_data must never set, even after a slot has been reused 2^31 times.
     */
    private static final int GENERATION_MASK = 0x7fff_ffff;

    private static final VarHandle PENDING_HEAD;

    static {
        try {
            PENDING_HEAD = MethodHandles.lookup().findVarHandle(IoUringFdMonitor.class, "pendingHead", FdNode.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final IoUringRing ring;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment timespec;
    /** Head of the lock-free list of nodes with queued changes; through {@link #PENDING_HEAD} only. */
    @SuppressWarnings("unused")
    private FdNode pendingHead;

    // ---- home thread only ----
    private FdNode[] slots = new FdNode[64];
    private int[] generations = new int[64];
    private int[] freeSlots = new int[64];
    private int freeCount;
    private int slotHighWater;
    private int slotsInUse;
    private boolean ringFdRegistrationTried;
    /** Any thread: close()'s volatile store pairs with the loads in update(), wait() and isClosed(). */
    private volatile boolean closed;
    private final WaitsInProgress waits = new WaitsInProgress();
    private int reported;
    /**
     * Numbers the waits, so that a node is reported at most once in one ({@code FdNode.ringReportedInWait}). A
     * wait that finds the CQ ring overflowed reaps twice: polls re-armed by the first reap of still-ready fds
     * completed again into the kernel's overflow list, and the second reap reported their nodes again (400 ready
     * eventfds: 112 nodes twice in every wait, where poll and epoll report each once). Home thread.
     */
    private int waitNumber;
    private ReadySink sink;
    /** The ring's borrower, or null. */
    private SharedRing shared;
    private RingClient client;
    /** The node registered on the ring fd while shared: reported readable when client CQEs were reaped. */
    private FdNode clientNode;
    /**
     * Client CQEs reaped by waits since the client node was last reported (those reaped by
     * {@link #awaitClientCompletions} are passed on to its caller and do not count).
     */
    private int clientCompletions;
    /**
     * Registered nodes whose poll completed outside a wait ({@link #awaitClientCompletions}): not re-armed there,
     * re-armed by the next wait. Entries {@code [0, deferredCount)}.
     */
    private FdNode[] deferred = new FdNode[16];
    private int deferredCount;

    private IoUringFdMonitor(IoUringRing ring) {
        this.ring = ring;
        this.timespec = arena.allocate(JAVA_LONG, 2);
    }

    /**
     * Creates the monitor and its ring.
     *
     * @throws IllegalStateException when io_uring is unavailable (the message says why)
     * @throws NativeCallException   when the ring cannot be set up (e.g. {@code ENOMEM} under a low memlock limit)
     */
    public static IoUringFdMonitor open() {
        Availability availability = availability();
        if (!availability.available()) {
            throw new IllegalStateException("io_uring fd monitor unavailable: " + availability.reason());
        }
        return new IoUringFdMonitor(createRing());
    }

    /**
     * The ring, set up with {@code IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG} where the kernel has them
     * (5.19 and later), plain before ({@link IoUringRing#createCooperative}). With them, a completion that arrives
     * while the home thread runs in user space does not interrupt it (no IPI): the kernel sets
     * {@code IORING_SQ_TASKRUN} instead, and the next enter posts the CQE. {@link #needWait} reads that flag, so a
     * busy-polling loop stops and enters when a completion is due; a sleeping home thread is woken as before.
     */
    private static IoUringRing createRing() {
        return IoUringRing.createCooperative(ENTRIES);
    }

    /**
     * Whether io_uring works here and supports the three opcodes this monitor needs (POLL_ADD, POLL_REMOVE,
     * TIMEOUT); if not, why. Any thread.
     */
    public static Availability availability() {
        Availability ring = IoUringProbe.availability();
        if (!ring.available()) {
            return ring;
        }
        for (String op : new String[] {"POLL_ADD", "POLL_REMOVE", "TIMEOUT"}) {
            if (!IoUringProbe.supports(IoUringOpcodes.opcode(op))) {
                return Availability.no("the kernel's io_uring does not support IORING_OP_" + op);
            }
        }
        return Availability.yes();
    }

    @Override
    public FdMonitorKind kind() {
        return FdMonitorKind.IO_URING;
    }

    @Override
    public String name() {
        return "io_uring";
    }

    // ------------------------------------------------------------------ any thread

    @Override
    public void update(FdNode oldNode, FdNode newNode) {
        if (closed) { // a closed monitor takes no node: it would never be released
            throw new IllegalStateException("io_uring fd monitor is closed");
        }
        FdNode.checkNotSelfReplacement(oldNode, newNode);
        if (oldNode != null) {
            // Another monitor's node shares the flag word this one would queue a REMOVE in; poll refuses it too.
            oldNode.checkAddedTo(this);
            if ((oldNode.ringFlagsAcquire() & REMOVE) != 0) { // removed or replaced already (callers serialise updates)
                if (newNode == null) {
                    return; // removing it again changes nothing, as on poll and epoll
                }
                // Before session 26 the new node was added here, where poll and epoll refused the replacement.
                throw new IllegalArgumentException(oldNode + " was removed or replaced already: it cannot be replaced"
                        + " again");
            }
        }
        if (newNode != null) {
            newNode.claimFor(this); // before anything is queued: a refused update changes nothing
            enqueue(newNode, ADD);
        }
        if (oldNode != null) {
            enqueue(oldNode, REMOVE);
        }
    }

    private void enqueue(FdNode node, int flag) {
        int old = node.ringFlagsGetAndOr(PENDING | flag);
        if ((old & PENDING) == 0) {
            FdNode head;
            do {
                head = (FdNode) PENDING_HEAD.getAcquire(this); // another pusher's CAS published it; re-checked below
                node.ringNext = head;
                // Volatile CAS: publishes ringNext and the flags; pairs with getAndSet in applyPendingChanges().
            } while (!PENDING_HEAD.compareAndSet(this, head, node));
        }
    }

    // ------------------------------------------------------------------ home thread

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
            throw new IllegalStateException("io_uring fd monitor is closed");
        }
        registerRingFdOnce();
        this.sink = sink;
        this.reported = 0;
        waitNumber++;
        try {
            IllegalStateException refused = applyPendingChanges();
            if (refused != null) {
                // Every other change is applied (its SQEs wait in the SQ ring for the next wait).
                throw refused;
            }
            rearmDeferred();
            int waitNr = timeoutNs == 0 ? 0 : 1;
            if (timeoutNs > 0) {
                timespec.setAtIndex(JAVA_LONG, 0, timeoutNs / 1_000_000_000L);
                timespec.setAtIndex(JAVA_LONG, 1, timeoutNs % 1_000_000_000L);
                MemorySegment sqe = nextSqe();
                // count 1: completes at the deadline or as soon as one other CQE is posted. user_data 0 = ignore.
                // The kernel copies the timespec while preparing the request, inside the submit below.
                Sqe.prepTimeout(sqe, timespec.address(), 1, 0);
                Sqe.setUserData(sqe, 0L);
            }
            submitAndWait(waitNr);
            processCompletions();
            if (ring.cqHasOverflow()) {
                // Completions the CQ ring had no room for wait in the kernel; an enter with GETEVENTS flushes them.
                submitAndWait(0);
                processCompletions();
            }
            reportClientCompletions();
            return reported;
        } finally {
            this.sink = null;
        }
    }

    void registerRingFdOnce() {
        if (!ringFdRegistrationTried) {
            ringFdRegistrationTried = true;
            ring.registerRingFd();
        }
    }

    /** Reports the client node readable if client CQEs were reaped since it was last reported. */
    private void reportClientCompletions() {
        if (clientCompletions > 0 && clientNode != null) {
            sink.ready(clientNode, Poll.POLLIN);
            clientCompletions = 0; // after the report: if the sink throws, the next wait reports the node again
            reported++;
        }
    }

    private void submitAndWait(int waitNr) {
        while (true) {
            int r = ring.submitAndWaitOrErrno(waitNr);
            if (r == -Errno.EINTR) {
                continue;
            }
            if (r == -Errno.EAGAIN || r == -Errno.EBUSY) {
                // Out of kernel resources, or completions waiting for CQ room: nothing was lost, the SQEs stay in
                // the SQ ring. The caller reaps what is there (and flushes an overflow); the next wait retries.
                return;
            }
            if (r < 0) {
                throw new NativeCallException("io_uring_submit_and_wait", -r);
            }
            // A return without the awaited completion (a signal, or a spurious wakeup) waits again.
            if (waitNr == 0 || ring.cqReady() >= waitNr) {
                return;
            }
        }
    }

    /**
     * Turns the queued ADD/REMOVE requests into SQEs. A change it must refuse (a handler on the ring fd while the
     * ring is not shared) does not stop it: it applies the whole list, then returns the refusal for the caller to
     * throw (null if none), so no other node is left behind with {@code PENDING} set and never applied.
     */
    private IllegalStateException applyPendingChanges() {
        IllegalStateException refused = null;
        // Volatile getAndSet pairs with the CAS in enqueue(): every pushed node's link and flags are visible.
        FdNode node = (FdNode) PENDING_HEAD.getAndSet(this, (FdNode) null);
        while (node != null) {
            FdNode next = node.ringNext;
            node.ringNext = null;
            // Clearing PENDING lets other threads push this node again; its link was read above. REMOVE stays.
            int flags = node.ringFlagsGetAndClear(PENDING | ADD);
            if (!node.isReleased() && node.fd() == ring.fd()) {
                IllegalStateException e = updateClientNode(node, flags);
                if (e != null && refused == null) {
                    refused = e;
                }
            } else if (!node.isReleased()) {
                if ((flags & REMOVE) != 0) {
                    if (!node.ringArmed) {
                        // Never armed, or its poll already completed with an error: nothing left in the kernel.
                        release(node);
                    } else if (!node.ringRemoveQueued) {
                        node.ringRemoveQueued = true;
                        MemorySegment sqe = nextSqe();
                        Sqe.prepPollRemove(sqe, node.ringUserData);
                        Sqe.setUserData(sqe, 0L);
                    }
                } else if ((flags & ADD) != 0 && !node.ringArmed) {
                    assignSlot(node);
                    arm(node);
                }
            }
            node = next;
        }
        return refused;
    }

    /**
     * A handler on the ring fd itself: while the ring is shared it names the client's completions and is never
     * polled (a ring polling itself would report readiness forever). Returns the refusal of one added while the
     * ring is not shared (the node is released: the monitor never refers to it), or null.
     */
    private IllegalStateException updateClientNode(FdNode node, int flags) {
        if ((flags & REMOVE) != 0) {
            if (clientNode == node) {
                clientNode = null;
            }
            node.markReleasedRelease();
        } else if ((flags & ADD) != 0) {
            if (shared == null) {
                node.markReleasedRelease();
                return new IllegalStateException("a handler on the io_uring monitor's own ring fd " + ring.fd()
                        + " is only allowed while the ring is shared (IoUringFdMonitor.share)");
            }
            clientNode = node;
        }
        return null;
    }

    /** Re-arms the polls {@link #awaitClientCompletions} reaped, unless their node was removed meanwhile. */
    private void rearmDeferred() {
        while (deferredCount > 0) {
            // Taken off before arming, so a throwing arm() leaves no stale entry behind.
            FdNode node = deferred[--deferredCount];
            deferred[deferredCount] = null;
            // Acquire pairs with the volatile getAndOr in enqueue(): a REMOVE queued since is seen; that node is
            // released by applyPendingChanges() (now, or at the next wait) since it has nothing in the kernel.
            if (!node.isReleased() && !node.ringArmed && (node.ringFlagsAcquire() & REMOVE) == 0) {
                arm(node);
            }
        }
    }

    /**
     * Queues the node's POLL_ADD, unless its mask is 0 ("registered but not watched", as poll and epoll treat it):
     * the kernel adds {@code POLLERR|POLLHUP} to every poll mask, so a POLL_ADD with mask 0 of a hung-up pipe
     * completed at once on every wait and the loop spun. Such a node holds a slot but nothing in the kernel
     * ({@code ringArmed} stays false), so removing it releases it at once; a node replaced by one with mask 0 has
     * its poll removed like any replaced node.
     */
    private void arm(FdNode node) {
        if (node.events() == 0) {
            return;
        }
        MemorySegment sqe = nextSqe();
        Sqe.prepPollAdd(sqe, node.fd(), node.events());
        Sqe.setUserData(sqe, node.ringUserData);
        node.ringArmed = true;
    }

    /** An SQE; when the SQ is full, submits what is there (without waiting) to make room. */
    private MemorySegment nextSqe() {
        MemorySegment sqe = ring.nextSqe();
        while (sqe == null) {
            int r = ring.submitOrErrno();
            if (r < 0 && r != -Errno.EINTR) {
                throw new NativeCallException("io_uring_submit", -r, "SQ full");
            }
            sqe = ring.nextSqe();
        }
        return sqe;
    }

    private void processCompletions() {
        int n = ring.cqReady();
        for (int i = 0; i < n; i++) {
            int head = ring.cqHead();
            long userData = ring.cqeUserData(head);
            int res = ring.cqeRes(head);
            // Free the CQE slot at once: re-arming below may submit, and new CQEs need room.
            ring.cqAdvance(1);
            if ((userData & SharedRing.CLIENT_TAG) != 0) {
                if (client == null) {
                    throw new IllegalStateException("io_uring CQE of a ring client after it detached: user_data 0x"
                            + Long.toHexString(userData));
                }
                clientCompletions++;
                client.completion(userData & ~SharedRing.CLIENT_TAG, res);
            } else if (userData != 0) {
                complete(userData, res);
            }
        }
    }

    private void complete(long userData, int res) {
        int slot = (int) userData - 1;
        int generation = (int) (userData >>> 32);
        if (slot < 0 || slot >= slotHighWater || (generations[slot] & GENERATION_MASK) != generation
                || slots[slot] == null) {
            throw new IllegalStateException("io_uring CQE for unknown user_data 0x" + Long.toHexString(userData));
        }
        FdNode node = slots[slot];
        node.ringArmed = false;
        // Acquire pairs with the volatile getAndOr in enqueue(): a REMOVE set by any thread before now is seen.
        if ((node.ringFlagsAcquire() & REMOVE) != 0) {
            // The last completion of a removed node (cancelled by POLL_REMOVE, or fired before it): release it.
            // If it is still on the pending list, applyPendingChanges() skips it as released.
            release(node);
            return;
        }
        if (sink == null) {
            // Reaped by awaitClientCompletions, outside a wait: nobody to report to. Re-armed by the next wait,
            // not now (a poll of a ready fd would complete at once and keep awaitClientCompletions spinning);
            // readiness is level-triggered, so that wait reports the fd again (an error too).
            if (deferredCount == deferred.length) {
                deferred = Arrays.copyOf(deferred, deferredCount * 2);
            }
            deferred[deferredCount++] = node;
            return;
        }
        if (res < 0) {
            // The kernel refused the poll (EBADF: fd closed while registered, ...). Report an error and do not
            // re-arm, or a dead fd would complete forever; the owner removes or replaces the handler.
            System.getLogger(IoUringFdMonitor.class.getName()).log(System.Logger.Level.WARNING,
                    "io_uring POLL_ADD of fd {0} failed: {1}", node.fd(), Errno.symbol(-res));
            report(node, Poll.POLLERR | Poll.POLLNVAL);
            return;
        }
        // Re-armed before the report: a sink that throws must not leave the fd unwatched for good (this CQE is
        // consumed, and nothing else would arm it again); the next wait reports it again, as poll and epoll do. Only
        // an SQE is queued here, for the next submit, so the report's order against the kernel is unchanged.
        arm(node);
        int revents = res & 0xffff;
        if (revents != 0) {
            report(node, revents);
        }
    }

    /** Reports {@code node} to this wait's sink, unless this wait reported it already (see {@link #waitNumber}). */
    private void report(FdNode node, int revents) {
        if (node.ringReportedInWait == waitNumber) {
            return; // level-triggered: its readiness stands, and the next wait reports it again
        }
        node.ringReportedInWait = waitNumber;
        sink.ready(node, revents);
        reported++;
    }

    private void assignSlot(FdNode node) {
        int slot;
        if (freeCount > 0) {
            slot = freeSlots[--freeCount];
        } else {
            if (slotHighWater == slots.length) {
                int capacity = slots.length * 2;
                slots = Arrays.copyOf(slots, capacity);
                generations = Arrays.copyOf(generations, capacity);
                freeSlots = Arrays.copyOf(freeSlots, capacity);
            }
            slot = slotHighWater++;
        }
        slots[slot] = node;
        node.ringSlot = slot;
        node.ringUserData = ((long) (generations[slot] & GENERATION_MASK) << 32) | (slot + 1);
        slotsInUse++;
    }

    private void release(FdNode node) {
        int slot = node.ringSlot;
        if (slot >= 0) {
            slots[slot] = null;
            generations[slot]++;
            freeSlots[freeCount++] = slot;
            node.ringSlot = -1;
            slotsInUse--;
        }
        node.markReleasedRelease();
    }

    // ------------------------------------------------------------------ sharing the ring (home thread)

    /**
     * Lends the ring to {@code client} (see the class comment and {@link SharedRing}); one client at a time.
     * Home thread.
     *
     * @throws IllegalStateException when the monitor is closed or already shared
     */
    public SharedRing share(RingClient client) {
        checkOpen();
        if (!canShare()) {
            throw new IllegalStateException("the io_uring monitor's ring cannot be shared: the kernel lacks"
                    + " IORING_FEAT_EXT_ARG (Linux 5.11), so a timed wait would put liburing's own TIMEOUT on the ring");
        }
        Objects.requireNonNull(client, "client");
        if (shared != null) {
            throw new IllegalStateException("the io_uring monitor's ring is already shared with " + this.client);
        }
        this.client = client;
        this.shared = new SharedRing(this, ring);
        return shared;
    }

    /**
     * Whether {@link #share} works: the kernel has {@code IORING_FEAT_EXT_ARG} (Linux 5.11+). Without it liburing's
     * timed wait ({@link SharedRing#awaitCompletions}) queues a TIMEOUT of its own whose user_data (all ones) would
     * pass for a client's. Any thread.
     */
    public boolean canShare() {
        return (ring.features() & LibUring.IORING_FEAT_EXT_ARG()) != 0;
    }

    /** Whether {@link #close()} ran. Any thread (a volatile read: for a closing client after the loop stopped). */
    boolean isClosed() {
        return closed;
    }

    /** Whether a client borrows the ring. Home thread. */
    public boolean isShared() {
        return shared != null;
    }

    void detach(SharedRing s) {
        if (shared == s) {
            shared = null;
            client = null;
            clientCompletions = 0;
        }
    }

    void checkOpen() {
        if (closed) {
            throw new IllegalStateException("io_uring fd monitor is closed");
        }
    }

    /** The SQ ring is full: submits without waiting; returns whether the kernel took any SQE. */
    boolean submitForRoom() {
        registerRingFdOnce();
        return ring.mayEnter() && submitNow() > 0;
    }

    /** Submits what is queued, without waiting, retrying EINTR; the count or {@code -errno}. Home thread. */
    int submitNow() {
        registerRingFdOnce();
        int r;
        do {
            r = ring.submitOrErrno();
        } while (r == -Errno.EINTR);
        return r;
    }

    /**
     * {@link SharedRing#awaitCompletions}: reaps until it has passed on at least one client completion or the
     * timeout passed ({@code 0}: one look; {@code < 0}: no limit). Other CQEs do not end it: a poll it reaps is
     * kept for the next wait ({@link #complete}), a cancelled one releases its node.
     */
    int awaitClientCompletions(long timeoutNs) {
        checkOpen();
        if (sink != null) {
            throw new IllegalStateException("SharedRing.awaitCompletions called inside the monitor's wait");
        }
        long deadline = System.nanoTime() + Math.max(0, timeoutNs);
        // What a wait reaped and could not report yet (it threw) stays for the next wait to report; what is reaped
        // here is passed on to the caller, who delivers it, so it must not make the next wait report the node.
        int unreported = clientCompletions;
        clientCompletions = 0;
        try {
            while (true) {
                if (ring.cqReady() == 0) {
                    long remaining = timeoutNs < 0 ? -1 : Math.max(0, deadline - System.nanoTime());
                    waitOutsideWait(remaining);
                }
                processCompletions();
                if (clientCompletions > 0 || (timeoutNs >= 0 && deadline - System.nanoTime() <= 0)) {
                    return clientCompletions;
                }
            }
        } finally {
            clientCompletions = unreported;
        }
    }

    /** Submits what is queued and waits up to {@code timeoutNs} ({@code < 0}: no limit) for a CQE. */
    private void waitOutsideWait(long timeoutNs) {
        if (ring.mayEnter()) {
            if (ring.sqReady() > 0) {
                submitForRoom();
            }
            if (ring.cqReady() == 0) {
                ring.waitCqeTimeout(timeoutNs);
            }
        } else {
            // Another thread registered the ring fd (the loop's, now stopped): wait on the fd, do not enter.
            try (Arena a = Arena.ofConfined()) {
                MemorySegment pfd = a.allocate(Poll.POLLFD_SIZE, 8);
                Poll.set(pfd, 0, ring.fd(), Poll.POLLIN);
                Poll.ppollOrErrno(pfd, 1, timeoutNs);
            }
        }
    }

    @Override
    public boolean needWait(boolean someHandlerCannotPoll) {
        // The CQ ring and its flags are visible without a system call: busy polling sees fd readiness here, whatever
        // the handlers.
        // Deferred polls: readiness that awaitClientCompletions reaped and the next wait must report.
        // The pending-list acquire pairs with the CAS in enqueue(): a change queued by another thread stops the spin.
        // IORING_SQ_TASKRUN: a completion waits for an enter to be posted (see createRing); the non-blocking
        // wait this answer leads to enters (liburing's submit_and_wait(0) adds GETEVENTS for that flag).
        return ring.cqReady() > 0 || ring.sqReady() > 0 || deferredCount > 0 || PENDING_HEAD.getAcquire(this) != null
                || ring.taskRunPending();
    }

    /**
     * The ring's fd, readable ({@code POLLIN}) while completions wait in the CQ ring, where every report of this
     * monitor starts: a thread that sleeps elsewhere watches it to learn that a non-blocking {@link #wait} has
     * something to report (blockcore's loop asleep in the native engine's {@code io_getevents}). A completion that
     * waits for the home thread to post it ({@code IORING_SQ_TASKRUN}, see {@link #createRing}) does not make the fd
     * readable until then, but the kernel's notification wakes the home thread from an interruptible sleep (the
     * sleeping call returns {@code EINTR}) and the return to user space posts it: after any such wake-up, the
     * sleeper asks {@link #needWait needWait(false)}. Any thread.
     */
    public int readinessFd() {
        return ring.fd();
    }

    /** The ring's {@code IORING_SETUP_*} flags (for tests). Any thread. */
    int ringSetupFlags() {
        return ring.setupFlags();
    }

    /**
     * Whether a {@link #wait} is running on the home thread, from before it can block until it returns (for tests).
     * Any thread; see {@link WaitsInProgress#inProgress()}.
     */
    boolean waitInProgress() {
        return waits.inProgress();
    }

    /** Whether a completion waits for an enter to be posted (for tests). Home thread. */
    boolean taskRunPending() {
        return ring.taskRunPending();
    }

    @Override
    public boolean seesReadinessWithoutWaiting() {
        return true;
    }

    /**
     * Submits the queued SQEs (a shared-ring client's requests, pending poll updates) in an enter of their own, so
     * a busy poll of the CQ ring can catch their completions; otherwise they would stop the poll at once
     * ({@link #needWait}) and wait for {@link #wait} to submit them. An {@code EAGAIN}/{@code EBUSY} refusal leaves
     * them queued for the wait. Home thread.
     */
    @Override
    public boolean submitBeforePolling() {
        checkOpen();
        return ring.sqReady() > 0 && ring.mayEnter() && submitNow() > 0;
    }

    /**
     * How many nodes hold a user_data slot: registered ones plus removed ones whose last completion has not
     * arrived yet. Home thread.
     */
    public int slotsInUse() {
        return slotsInUse;
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        waits.checkNotWaiting("io_uring fd monitor");
        closed = true;
        shared = null;
        client = null;
        if (clientNode != null) {
            // It holds no slot, so the loop over the slots below never reached it: it stayed unreleased (session 26).
            clientNode.markReleasedRelease();
            clientNode = null;
        }
        Arrays.fill(deferred, 0, deferredCount, null);
        deferredCount = 0;
        // Tearing the ring down cancels every poll in flight; nothing can complete into it afterwards.
        ring.close();
        for (int i = 0; i < slotHighWater; i++) {
            if (slots[i] != null) {
                slots[i].markReleasedRelease();
                slots[i] = null;
            }
        }
        FdNode node = (FdNode) PENDING_HEAD.getAndSet(this, (FdNode) null); // pairs with the CAS in enqueue()
        while (node != null) {
            FdNode next = node.ringNext;
            node.ringNext = null;
            node.markReleasedRelease();
            node = next;
        }
        slotsInUse = 0;
        arena.close();
    }

    @Override
    public String toString() {
        return "IoUringFdMonitor[ring fd " + ring.fd() + "]";
    }
}
