package io.blockloop.fdmon;

import io.blockloop.ffm.call.Availability;
import io.blockloop.ffm.errno.Errno;
import io.blockloop.ffm.errno.NativeCallException;
import io.blockloop.ffm.libc.Epoll;
import io.blockloop.ffm.libc.FileIo;
import io.blockloop.ffm.libc.Poll;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * The epoll monitor (QEMU's {@code fdmon-epoll.c}): it starts as a {@link PollFdMonitor} — for a handful of fds
 * one {@code ppoll} is cheaper than keeping an epoll set in sync — and upgrades itself to epoll the first time a
 * wait that is not nested finds {@value #UPGRADE_THRESHOLD} or more fds registered. There is no downgrade
 * when the count drops. If any {@code epoll_ctl} fails (at the upgrade or later: e.g. {@code EPERM} for a
 * regular file, which poll accepts), the monitor goes back to poll for good.
 *
 * <p>Timeouts stay exact below a millisecond: waits use {@code epoll_pwait2} with a nanosecond timespec. Only
 * if the kernel lacks it ({@code ENOSYS}, Linux &lt; 5.11) does a wait first {@code ppoll} the epoll fd itself
 * with the nanosecond timeout and then collect with {@code epoll_wait(0)}, as QEMU does.
 *
 * <p>Threads: {@link #update} any thread, serialised by {@code synchronized}; while in epoll mode it calls
 * {@code epoll_ctl} directly (the kernel allows that during another thread's {@code epoll_wait}). {@link #wait},
 * {@link #needWait}, {@link #close} the home thread; the upgrade takes the same lock, so no update runs half
 * before and half after it. The epoll fd is closed only by the home thread (a fallback decided by another
 * thread's update leaves it open until the next wait), so a wait can never pass a closed, possibly reused fd
 * number to the kernel.
 *
 * <p>Memory ordering: {@link #mode()} is written under the lock with release stores and read with acquire
 * loads; the fd → node table is {@link NodesByFd} (release/acquire per element).
 */
public final class EpollFdMonitor implements FdMonitor {
    /** Registered fds at which a poll-mode monitor switches to epoll (QEMU's {@code EPOLL_ENABLE_THRESHOLD}). */
    public static final int UPGRADE_THRESHOLD = 64;
    private static final int MAX_EVENTS = 128;
    private static final VarHandle MODE;

    static {
        try {
            MODE = MethodHandles.lookup().findVarHandle(EpollFdMonitor.class, "mode", Mode.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** Which mechanism the monitor uses. Immutable; any thread. */
    public enum Mode {
        /** Below the threshold so far: waits are {@code ppoll}. */
        POLL,
        /** Upgraded: waits are {@code epoll_pwait2}. */
        EPOLL,
        /** An {@code epoll_ctl} failed: poll from now on, the epoll fd is (or is about to be) closed. */
        POLL_FOR_GOOD
    }

    private final PollFdMonitor poll;
    private final NodesByFd byFd = new NodesByFd();
    private final int threshold;
    private final int epfd;
    private final Arena arena;
    private final MemorySegment events;
    private final MemorySegment epfdPollfd;
    @SuppressWarnings("unused") // accessed through MODE
    private Mode mode = Mode.POLL;
    /**
     * Why the monitor fell back to poll for good, or null. Written under the lock, before the release store of
     * {@code POLL_FOR_GOOD}; volatile for {@link #fallbackReason()}, whose load on any thread pairs with it.
     */
    private volatile String fallbackReason;
    // ---- home thread only ----
    private boolean epfdClosed;
    private boolean pwait2Missing;
    /** Any thread: close()'s volatile store pairs with the loads in update(), wait() and a second close(). */
    private volatile boolean closed;
    private final WaitsInProgress waits = new WaitsInProgress();

    private EpollFdMonitor(int threshold) {
        if (threshold < 0) {
            throw new IllegalArgumentException("negative upgrade threshold " + threshold);
        }
        this.threshold = threshold;
        // The epoll fd first: if it fails (EMFILE, ENOMEM), nothing else exists yet. The poll monitor and the arena
        // used to be field initialisers, created before it, and a failed epoll_create1 leaked both shared arenas.
        this.epfd = Epoll.create(Epoll.EPOLL_CLOEXEC);
        PollFdMonitor p = null;
        Arena a = null;
        try {
            p = new PollFdMonitor();
            a = Arena.ofShared();
            this.events = a.allocate(Epoll.EVENT_SIZE * MAX_EVENTS, 8);
            this.epfdPollfd = a.allocate(Poll.POLLFD_SIZE, 8);
        } catch (RuntimeException | Error e) {
            if (a != null) {
                a.close();
            }
            if (p != null) {
                p.close();
            }
            FileIo.closeOrErrno(epfd);
            throw e;
        }
        this.poll = p;
        this.arena = a;
        Poll.set(epfdPollfd, 0, epfd, Poll.POLLIN);
    }

    /** An epoll monitor with the standard {@value #UPGRADE_THRESHOLD}-fd upgrade threshold. */
    public static EpollFdMonitor open() {
        return new EpollFdMonitor(UPGRADE_THRESHOLD);
    }

    /**
     * An epoll monitor that upgrades at {@code upgradeThreshold} registered fds (0 or 1: at the first wait that
     * has a registered fd). For tests and tuning; contexts use {@link #open()}.
     */
    public static EpollFdMonitor open(int upgradeThreshold) {
        return new EpollFdMonitor(upgradeThreshold);
    }

    /** Whether {@code epoll_create1} works here. Probed once per JVM. Any thread. */
    public static Availability availability() {
        return AvailabilityHolder.AVAILABILITY;
    }

    /** Lazy holder: probed once, under class-initialisation locking; immutable afterwards, any thread. */
    private static final class AvailabilityHolder {
        static final Availability AVAILABILITY = probe();

        private static Availability probe() {
            try {
                FileIo.close(Epoll.create(Epoll.EPOLL_CLOEXEC));
                return Availability.yes();
            } catch (NativeCallException | UnsatisfiedLinkError e) {
                return Availability.no("epoll_create1 failed: " + e.getMessage());
            }
        }
    }

    @Override
    public FdMonitorKind kind() {
        return FdMonitorKind.EPOLL;
    }

    @Override
    public String name() {
        return mode() == Mode.EPOLL ? "epoll" : "poll";
    }

    /** The current mechanism (acquire). Any thread. */
    public Mode mode() {
        return (Mode) MODE.getAcquire(this);
    }

    /** Why the monitor went back to poll for good ({@code "epoll_ctl(ADD): EPERM ..."}), or null. Any thread. */
    public String fallbackReason() {
        return fallbackReason;
    }

    /** How many fds are registered. Any thread. */
    public int registeredCount() {
        return poll.registeredCount();
    }

    @Override
    public synchronized void update(FdNode oldNode, FdNode newNode) {
        if (closed) { // its epoll fd number may be another file's by now
            throw new IllegalStateException("epoll fd monitor is closed");
        }
        // The poll set is kept in every mode: it is what a (permanent) fallback continues with.
        poll.update(oldNode, newNode);
        if (mode() != Mode.EPOLL) {
            return;
        }
        int oldEvents = oldNode == null ? 0 : oldNode.events();
        int newEvents = newNode == null ? 0 : newNode.events();
        // The table maps an fd to the node epoll watches it for, as tryUpgrade() builds it: a node with no events is
        // not watched and does not go in. Before session 26 any node went in, so a second node with no events on a
        // watched fd took the first one's reports, and removing it unmapped the fd while epoll still watched it: a
        // wait returned at once, with nothing to report, for as long as the fd stayed ready (100 % CPU).
        if (oldNode != null && byFd.getAcquire(oldNode.fd()) == oldNode) {
            byFd.remove(oldNode.fd());
        }
        if (newNode != null && newNode.events() != 0) {
            byFd.put(newNode);
        }
        int fd = newNode != null ? newNode.fd() : oldNode.fd();
        int op;
        if (oldEvents == newEvents && (oldEvents == 0 || oldNode == newNode)) {
            return; // nothing changes for the kernel
        } else if (oldEvents == 0) {
            op = Epoll.EPOLL_CTL_ADD;
        } else if (newEvents == 0) {
            op = Epoll.EPOLL_CTL_DEL;
        } else {
            op = Epoll.EPOLL_CTL_MOD;
        }
        // A new node for the same fd is a MOD even with the same mask (QEMU's rule too): the fd may have been closed
        // and its number reused, and then the kernel dropped the old registration with the old file. Skipping the
        // call left the new file unwatched (its readiness was never reported); MOD says ENOENT, and ADD watches it.
        int r = Epoll.ctlOrErrno(epfd, op, fd, newEvents, fd);
        if (r == -Errno.ENOENT && op == Epoll.EPOLL_CTL_MOD) {
            op = Epoll.EPOLL_CTL_ADD;
            r = Epoll.ctlOrErrno(epfd, op, fd, newEvents, fd);
        }
        if (r < 0) {
            fallBackLocked(describe(op, fd, -r));
        }
    }

    private static String describe(int op, int fd, int errno) {
        String name = switch (op) {
            case Epoll.EPOLL_CTL_ADD -> "epoll_ctl(ADD)";
            case Epoll.EPOLL_CTL_MOD -> "epoll_ctl(MOD)";
            default -> "epoll_ctl(DEL)";
        };
        return name + " of fd " + fd + ": " + Errno.symbol(errno) + " (" + Errno.text(errno) + ")";
    }

    /** Caller holds the lock. The epoll fd is closed later, by the home thread (see the class comment). */
    private void fallBackLocked(String reason) {
        fallbackReason = reason;
        byFd.clear();
        // Release pairs with the acquire in mode(): a wait that sees POLL_FOR_GOOD also sees the reason.
        MODE.setRelease(this, Mode.POLL_FOR_GOOD);
        System.getLogger(EpollFdMonitor.class.getName()).log(System.Logger.Level.INFO,
                "epoll fd monitor falls back to poll for good: {0}", reason);
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
            throw new IllegalStateException("epoll fd monitor is closed");
        }
        Mode m = mode();
        if (m == Mode.POLL && !nested && poll.registeredCount() >= threshold) {
            m = tryUpgrade();
        }
        if (m != Mode.EPOLL) {
            if (m == Mode.POLL_FOR_GOOD && !epfdClosed) {
                epfdClosed = true;
                FileIo.closeOrErrno(epfd);
            }
            return poll.wait(timeoutNs, sink, nested);
        }
        return epollWait(timeoutNs, sink);
    }

    private synchronized Mode tryUpgrade() {
        if (mode() != Mode.POLL) {
            return mode();
        }
        for (FdNode node : poll.snapshotAcquire()) {
            if (node.events() == 0) {
                continue;
            }
            byFd.put(node);
            int r = Epoll.ctlOrErrno(epfd, Epoll.EPOLL_CTL_ADD, node.fd(), node.events(), node.fd());
            if (r < 0) {
                fallBackLocked(describe(Epoll.EPOLL_CTL_ADD, node.fd(), -r));
                return Mode.POLL_FOR_GOOD;
            }
        }
        // Release pairs with the acquire in mode(): updates after this see EPOLL and keep the set in sync.
        MODE.setRelease(this, Mode.EPOLL);
        return Mode.EPOLL;
    }

    private int epollWait(long timeoutNs, ReadySink sink) {
        int r;
        if (!pwait2Missing) {
            r = Epoll.pwait2OrErrno(epfd, events, MAX_EVENTS, timeoutNs);
            if (r == -Errno.ENOSYS) {
                pwait2Missing = true;
                r = waitWithoutPwait2(timeoutNs);
            }
        } else {
            r = waitWithoutPwait2(timeoutNs);
        }
        if (r < 0) { // not EINTR: an interrupted wait answers what is ready (Epoll, Poll)
            throw new NativeCallException("epoll_pwait2", -r);
        }
        int reported = 0;
        for (int i = 0; i < r; i++) {
            int fd = (int) Epoll.data(events, i);
            FdNode node = byFd.getAcquire(fd);
            if (node != null) {
                // EPOLLIN/PRI/OUT/ERR/HUP have the values of their POLL* twins.
                int revents = Epoll.events(events, i) & 0xffff;
                if (revents != 0) {
                    sink.ready(node, revents);
                    reported++;
                }
            }
        }
        return reported;
    }

    /** Kernels before 5.11: ppoll the epoll fd for the nanosecond timeout, then collect without blocking. */
    private int waitWithoutPwait2(long timeoutNs) {
        int msTimeout = timeoutNs < 0 ? -1 : 0;
        if (timeoutNs > 0) {
            int r = Poll.ppollOrErrno(epfdPollfd, 1, timeoutNs);
            if (r < 0) {
                return r;
            }
            if (r == 0) {
                return 0;
            }
        }
        return Epoll.waitOrErrno(epfd, events, MAX_EVENTS, msTimeout);
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
        waits.checkNotWaiting("epoll fd monitor");
        closed = true;
        poll.close();
        if (!epfdClosed) {
            epfdClosed = true;
            FileIo.closeOrErrno(epfd);
        }
        arena.close();
    }

    @Override
    public String toString() {
        return "EpollFdMonitor[" + mode() + ", " + registeredCount() + " fds]";
    }
}
