package io.blockloop.fdmon;

import io.blockloop.ffm.liburing.IoUringRing;
import io.blockloop.ffm.liburing.Sqe;

import java.lang.foreign.MemorySegment;
import java.util.function.LongConsumer;

/**
 * An io_uring monitor's ring, lent to one client that puts its own requests on it (QEMU's {@code aio_add_sqe}):
 * an I/O engine living in the same event loop. The loop's blocking wait then submits the client's requests and
 * waits for their completions in one {@code io_uring_enter}, where an engine with its own ring needs a submit on
 * its ring plus a wait on the monitor's ring, and its completions reach the loop through a poll of its ring fd.
 *
 * <h2>Protocol</h2>
 * <ul>
 *   <li>The client takes SQEs with {@link #nextSqe()}, fills them and sets their user_data to its own value ORed
 *       with {@link #userDataTag()} (its value must leave bit 63 clear). They go to the kernel at the monitor's
 *       next wait, or at once with {@link #submitOrErrno()}.</li>
 *   <li>The monitor hands each tagged CQE to the {@link RingClient} (tag removed) while it reaps, then reports
 *       {@link #fd()} readable to the loop, which runs the read handler the client registered on that fd: there
 *       the client delivers what it recorded. The monitor never polls {@link #fd()} (its own ring fd); a handler on
 *       it only names the client's completions.</li>
 *   <li>{@link #awaitCompletions} drives the ring without the loop, for a client that must wait (closing with
 *       requests in the kernel); the client delivers what it passes on itself.</li>
 *   <li>{@link #detach()} ends the loan; the client must have no request left in the kernel. After it,
 *       {@link #nextSqe()}, {@link #submitOrErrno()}, {@link #awaitCompletions}, {@link #registerBuffersOrErrno},
 *       {@link #unregisterBuffersOrErrno()} and {@link #cancelUnsubmitted} throw {@link IllegalStateException}: an SQE
 *       taken after detach completed to the next client that shared the ring (the wrong one), or, with none, made
 *       the loop's wait throw.</li>
 * </ul>
 *
 * <p>Threads: the monitor's home thread, for every method ({@link #fd()} and {@link #userDataTag()} any thread;
 * {@link #cancelUnsubmitted} and {@link #detach()} also the closing thread once the loop no longer runs).
 */
public final class SharedRing {
    /** Bit 63 of user_data marks a client request; the monitor's own user_data never sets it. */
    public static final long CLIENT_TAG = 1L << 63;

    private final IoUringFdMonitor monitor;
    private final IoUringRing ring;
    /**
     * {@link #detach()} ran: every client-facing method refuses from then on. Volatile because detach may run on
     * another thread than the later calls (a client closing while the loop is stopped, then a stale call on the home
     * thread); the write is a volatile store that the volatile loads in {@link #checkAttached()} pair with (a plain
     * load on x86, and these paths are per request, not per wait).
     */
    private volatile boolean detached;

    SharedRing(IoUringFdMonitor monitor, IoUringRing ring) {
        this.monitor = monitor;
        this.ring = ring;
    }

    /** The fd whose read handler delivers the client's completions (the monitor's ring fd). Any thread. */
    public int fd() {
        return ring.fd();
    }

    /** What the client ORs into the user_data of each of its SQEs. Any thread. */
    public long userDataTag() {
        return CLIENT_TAG;
    }

    /** CQ ring size, shared with the monitor's own polls: keep client requests in the kernel well below it. */
    public int cqEntries() {
        return ring.cqEntries();
    }

    /**
     * A zeroed SQE, or {@code null} when the SQ ring is full and submitting what is there made no room (the
     * kernel answered {@code EAGAIN} or {@code EBUSY}: retry after completions). Home thread.
     *
     * @throws IllegalStateException after {@link #detach()} or once the monitor is closed
     */
    public MemorySegment nextSqe() {
        checkAttached();
        monitor.checkOpen();
        MemorySegment sqe = ring.nextSqe();
        if (sqe == null && monitor.submitForRoom()) {
            sqe = ring.nextSqe();
        }
        return sqe;
    }

    /** SQEs taken and not yet consumed by the kernel. Home thread. */
    public int sqReady() {
        return ring.sqReady();
    }

    /**
     * Hands the queued SQEs to the kernel now, without waiting ({@code io_uring_submit}); returns how many it
     * consumed or {@code -errno} ({@code EAGAIN}/{@code EBUSY}: they stay queued). Home thread.
     *
     * @throws IllegalStateException after {@link #detach()} or once the monitor is closed
     */
    public int submitOrErrno() {
        checkAttached();
        monitor.checkOpen();
        return monitor.submitNow();
    }

    /**
     * Submits what is queued, then reaps until at least one client completion was passed on to the
     * {@link RingClient} or {@code timeoutNs} passed ({@code 0}: reap what is ready, do not block; {@code < 0}: no
     * limit), so call it only with requests in the kernel or queued. Readiness of the monitor's fds is not
     * reported here: a poll it reaps is re-armed by the loop's next wait, which reports the fd then (readiness is
     * level-triggered). The completions it passes on are the caller's to deliver: they do not make the next wait
     * report {@link #fd()}. Returns how many it passed on. Home thread, outside {@link IoUringFdMonitor#wait}.
     *
     * @throws IllegalStateException after {@link #detach()}, once the monitor is closed, or inside its wait
     */
    public int awaitCompletions(long timeoutNs) {
        checkAttached();
        return monitor.awaitClientCompletions(timeoutNs);
    }

    /**
     * Registers the client's fixed buffers on the ring ({@link IoUringRing#registerBuffersOrErrno}): the ring has
     * one buffer table, and the client owns it. Returns 0 or {@code -errno}. Home thread.
     *
     * @throws IllegalStateException after {@link #detach()} or once the monitor is closed
     */
    public int registerBuffersOrErrno(MemorySegment iovecs, int count) {
        checkAttached();
        monitor.checkOpen();
        return ring.registerBuffersOrErrno(iovecs, count);
    }

    /**
     * Unregisters the client's fixed buffers; 0 or {@code -errno} ({@code ENXIO}: none registered). Home thread.
     *
     * @throws IllegalStateException after {@link #detach()} or once the monitor is closed
     */
    public int unregisterBuffersOrErrno() {
        checkAttached();
        monitor.checkOpen();
        return ring.unregisterBuffersOrErrno();
    }

    /**
     * Whether the calling thread may submit to the ring: the loop's home thread, or any thread when the ring fd is
     * not registered. Any thread.
     */
    public boolean mayEnter() {
        return ring.mayEnter();
    }

    /** Whether the monitor was closed: the kernel cancelled everything on the ring, no CQE will come. Any thread. */
    public boolean isClosed() {
        return monitor.isClosed();
    }

    /**
     * Turns the client's SQEs that the kernel has not consumed yet into no-ops the monitor ignores, and hands each
     * one's user_data (tag removed) to {@code cancelled}: for a client that must give up requests nobody will
     * submit (closing from a thread that may not enter the ring while the loop is stopped). Returns how many.
     * Home thread, or the closing thread once the loop no longer runs.
     *
     * @throws IllegalStateException after {@link #detach()}: the unsubmitted SQEs may be the next client's
     */
    public int cancelUnsubmitted(LongConsumer cancelled) {
        checkAttached();
        int n = 0;
        for (int i = 0, ready = ring.sqReady(); i < ready; i++) {
            MemorySegment sqe = ring.unsubmittedSqe(i);
            long userData = Sqe.userData(sqe);
            if ((userData & CLIENT_TAG) != 0) {
                Sqe.prepNop(sqe);
                Sqe.setUserData(sqe, 0L); // the monitor ignores user_data 0
                cancelled.accept(userData & ~CLIENT_TAG);
                n++;
            }
        }
        return n;
    }

    /**
     * Ends the loan: later CQEs with the client tag are an error, and every client-facing method of this object
     * refuses (see the class comment). Home thread, or the closing thread once the loop no longer runs; idempotent.
     */
    public void detach() {
        detached = true; // volatile store: pairs with the volatile load in checkAttached()
        monitor.detach(this);
    }

    /** Throws {@link IllegalStateException} once {@link #detach()} ran (volatile load). Any thread. */
    private void checkAttached() {
        if (detached) {
            throw new IllegalStateException(this + " was detached: a client's requests after detach() would complete"
                    + " to whoever shares the ring next");
        }
    }

    @Override
    public String toString() {
        return "SharedRing[fd " + ring.fd() + "]";
    }
}
