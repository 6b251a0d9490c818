package io.blockloop.engine;

import io.blockloop.fdmon.RingClient;
import io.blockloop.fdmon.SharedRing;
import io.blockloop.ffm.call.Availability;
import io.blockloop.ffm.errno.Errno;
import io.blockloop.ffm.errno.NativeCallException;
import io.blockloop.ffm.libc.IoVec;
import io.blockloop.ffm.libc.Poll;
import io.blockloop.ffm.liburing.IoUringProbe;
import io.blockloop.ffm.liburing.IoUringRing;
import io.blockloop.ffm.liburing.Sqe;
import io.blockloop.ffm.liburing.generated.LibUring;

import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Function;
import java.util.function.IntSupplier;
import java.util.function.LongToIntFunction;

/**
 * io_uring driven from Java, after QEMU's {@code block/io_uring.c}: one ring per engine
 * ({@link IoUringRing}), SQEs prepared in Java ({@link Sqe}, by {@link RequestSqes}), submission batched like
 * {@link LinuxAioEngine}.
 *
 * <ul>
 *   <li>Ring: {@code entries} SQEs (default {@value #DEFAULT_ENTRIES}, QEMU's {@code MAX_ENTRIES}); the kernel
 *       gives twice as many CQEs, and the engine keeps at most that many requests in the kernel, so the CQ ring
 *       cannot overflow. Further requests wait in the engine's pending queue.</li>
 *   <li>The ring fd is registered ({@code io_uring_register_ring_fd}, Linux 5.18+) by the owner thread before
 *       its first {@code io_uring_enter}; refused registration is not an error.</li>
 *   <li>Completion fd: the <em>ring fd itself</em>. The bindings offer no {@code io_uring_register_eventfd},
 *       and none is needed: an io_uring fd polls readable ({@code POLLIN}) while CQEs wait in the CQ ring —
 *       QEMU's {@code aio_set_fd_handler(ring.ring_fd, ...)} relies on the same. Readiness is level-triggered
 *       on the ring's contents, so {@link #processCompletions()} has nothing to reset and is the same as
 *       {@link #poll()}; an eventfd would cost one extra write per completion batch and one read per wake-up.</li>
 *   <li>Results: {@code -EAGAIN}/{@code -EINTR} completions are resubmitted; a short read is resubmitted for the
 *       remainder (a read that returns 0 is the end of the file: the rest is zero-filled); a short write
 *       completes with {@code -ENOSPC}.</li>
 *   <li>Registered buffers ({@link #registerBuffer}, {@link FixedBuffers}): a read or write of one piece of
 *       memory inside one goes out as {@code READ_FIXED}/{@code WRITE_FIXED}, the others as {@code READ}/
 *       {@code WRITE} (a one-element vector too) or {@code READV}/{@code WRITEV}.</li>
 *   <li>Spin (not in QEMU): on its own ring, {@link #awaitCompletions} first spins on the CQ tail (and
 *       {@code IORING_SQ_TASKRUN}) for the completion of its only request in flight, for an adaptive window of at
 *       most {@code maxSpin} (default 50 µs; {@link CompletionSpin}). An event loop does not call it: it busy-polls
 *       {@link #poll()} itself.</li>
 *   <li>Its own ring ({@link #open}) runs completions as task work cooperatively ({@code COOP_TASKRUN |
 *       TASKRUN_FLAG}, where the kernel has them): a completion does not interrupt the owner while it runs; the
 *       next enter posts it, and {@link #poll()} enters when {@code IORING_SQ_TASKRUN} says one waits.</li>
 *   <li>A deferred ring ({@link #openDeferred}, {@code DEFER_TASKRUN} as fio sets up its own) for an owner that
 *       only awaits: completions are posted when the owner enters the ring, so it has no completion fd.</li>
 *   <li>On either own ring, while reaping, it submits every {@value #REAP_SUBMIT_BATCH} requests the handlers
 *       queue, and each such entry posts the completions that came in meanwhile.</li>
 *   <li>{@link #availability()} says why io_uring cannot be used (no {@code liburing.so.2}, sysctl
 *       {@code kernel.io_uring_disabled}, seccomp, ENOSYS) and {@link #open} refuses then.</li>
 * </ul>
 *
 * <h2>On the event loop's ring</h2>
 * {@link #openShared} puts the engine's requests on the ring of the event loop's io_uring fd monitor instead of a
 * ring of its own ({@link SharedRing}, QEMU's {@code aio_add_sqe}, which its {@code block/io_uring.c} moved to in
 * 2025). Then one {@code io_uring_enter} of the loop submits the requests and waits for their completions, where an
 * engine with its own ring costs a submit on it, a wait on the loop's ring, and a poll of its ring fd in between
 * (measured: QD 1 reads through the loop at about half the rate of the engine waiting on its own ring). In that
 * mode:
 * <ul>
 *   <li>requests go to the kernel with the loop's next wait, which comes as soon as the caller yields to the loop:
 *       the whole loop iteration is the batch. The engine enters the ring itself only when the SQ ring is full,
 *       and while it delivers completions, for every {@link #REAP_SUBMIT_BATCH} requests its handlers queue (a
 *       pass delivering 20 completions would otherwise hold the device's next 20 requests until the loop's
 *       iteration ends);</li>
 *   <li>the loop's monitor reaps the CQEs and hands them to the engine ({@link RingClient}), which records them;
 *       {@link #completionFd()} is the monitor's ring fd, reported readable after such a wait, and
 *       {@link #processCompletions()} delivers what was recorded;</li>
 *   <li>at most half the CQ ring is in the kernel (the other half is for the monitor's polls);</li>
 *   <li>{@link #awaitCompletions} and {@link #close()} wait through {@link SharedRing#awaitCompletions}: the
 *       owner thread, which is the loop's home thread, outside the loop's wait.</li>
 * </ul>
 *
 * <p>Threads: all methods except {@link #close()} and {@link #completionFd()} on the owner thread
 * ({@link IoEngine}). io_uring ties each request to the task that submitted it: the owner thread must stay alive
 * until its requests complete (the kernel cancels a task's requests when it exits), and because the ring fd is
 * registered in the owner's task, only the owner may enter the ring. {@link #close()} from another thread
 * therefore waits with {@code ppoll} on the ring fd and never enters the ring.
 *
 * <p>Memory ordering: SQE fields are plain stores, published by the release store of the SQ tail in
 * {@link IoUringRing#submitOrErrno()} (pairs with the kernel's {@code smp_load_acquire} of {@code sq.tail} in
 * {@code io_sqring_entries()}); CQEs are read after the acquire load of the CQ tail in
 * {@link IoUringRing#cqReady()} (pairs with {@code smp_store_release} of {@code cq.tail} in
 * {@code io_commit_cqring()}) and given back with the release store of the CQ head in
 * {@link IoUringRing#cqAdvance(int)}, one CQE at a time so that a handler that reaps again (nested) never sees a
 * CQE twice.
 */
public final class IoUringEngine implements IoEngine {
    /** QEMU's {@code MAX_ENTRIES}: SQ ring size. */
    public static final int DEFAULT_ENTRIES = 128;
    /**
     * On an own ring that runs task work cooperatively (both kinds since session 15) and on the loop's ring (session
     * 16), while reaping: queued requests that go to the kernel at once, without waiting for the pass to end. Such a
     * submit enters the ring with {@code GETEVENTS} when completions wait ({@code IORING_SQ_TASKRUN}), so it also
     * posts the completions that came in since the pass began, and the owner's next call finds them instead of
     * sleeping. Measured with the engine alone on a CPU-bound loop device at QD 32 (about 20 completions per pass):
     * reads 1.10x-1.39x fio against 0.78x-0.96x when only the pass's end submitted; 1 (submit each) did no better
     * ({@code docs/engine-benchmarks.md}, session 15). On the interrupt-driven ring the extra entries bought nothing:
     * the kernel posted completions as they came. On the loop's ring, whose wait submits only after the loop's whole
     * iteration, {@code blockloop bench} at QD 32 on the CPU-bound device made 1.42x fio against 1.04x (reads; batch
     * 4 and 16 no better), device-bound writes 0.99x against 0.95x ({@code linux-aio/README.md}, "io_uring on the
     * loop's ring"). {@link LinuxAioEngine#REAP_SUBMIT_BATCH} is linux-aio's counterpart.
     */
    static final int REAP_SUBMIT_BATCH = 8;
    /**
     * The ring of {@link #openDeferred}: completions wait as task work until the owner enters the ring
     * ({@code DEFER_TASKRUN}, which needs {@code SINGLE_ISSUER}); {@code COOP_TASKRUN | TASKRUN_FLAG} raise
     * {@code IORING_SQ_TASKRUN} meanwhile, so the owner knows when to enter without a system call to ask.
     */
    private static final int DEFERRED_SETUP_FLAGS = LibUring.IORING_SETUP_COOP_TASKRUN()
            | LibUring.IORING_SETUP_TASKRUN_FLAG() | LibUring.IORING_SETUP_SINGLE_ISSUER()
            | LibUring.IORING_SETUP_DEFER_TASKRUN();

    private final OwnerThread owner = new OwnerThread();
    private final EngineMemory memory;
    /** The engine's own ring, or null on the loop's ring. */
    private final IoUringRing ring;
    /** The loop's ring, or null with a ring of its own. */
    private final SharedRing shared;
    /** Completions the loop's monitor reaped for us, not delivered yet (on the loop's ring). Owner thread. */
    private final RequestQueue reaped = new RequestQueue();
    private final MemorySegment pollFd;
    /** {@link #awaitCompletions}'s spin; off on the loop's ring (the loop polls). Owner thread. */
    private final CompletionSpin ownerSpin;
    /** {@link #reap(long)}, whose wait already reads as {@link CompletionSpin#await} passes it. */
    private final LongToIntFunction reapWaiting = this::reap;
    /** {@link CompletionSpin#awaitDelivery}'s questions, made once: a lambda per call would allocate per request. */
    private final IntSupplier inKernel = this::inFlight;
    private final BooleanSupplier onlyOneOutstanding = this::onlyOneRequestOutstanding;
    private final int maxInFlight;
    /** Own ring set up with {@link #DEFERRED_SETUP_FLAGS} ({@link #openDeferred}). */
    private final boolean deferred;
    /**
     * An own ring whose completions wait as task work for the owner ({@code TASKRUN_FLAG}: deferred, or
     * {@code COOP_TASKRUN} where the kernel has it); false on the loop's ring and on a plain ring.
     */
    private final boolean cooperative;
    private final RequestPool pool;
    private final RequestAdmission admission;
    /** Finished requests (from CQEs, cancellations) and their handlers. Owner thread. */
    private final CompletionDelivery delivery;
    /** Buffers registered with the ring ({@link #registerBuffer}). Owner thread. */
    private final FixedBuffers fixed;
    /** Writes requests into SQEs. Owner thread. */
    private final RequestSqes sqes;
    /** Accepted (or to be resubmitted), not yet in the SQ ring. Owner thread. */
    private final RequestQueue pending = new RequestQueue();
    /** Open batches: the caller's {@code plug()}s and the reaping calls running; while above 0, requests wait. */
    private int plugDepth;
    /**
     * The caller's own {@link #plug()}s not yet undone: {@link #plugDepth} counts them and the reaping calls' batches
     * together, so an {@link #unplug()} without a {@code plug()} (in a handler) closed the reaping call's batch, and
     * requests submitted later outside any batch were never handed over. Owner thread.
     */
    private int callerPlugs;
    /** Requests placed in the SQ ring whose CQE has not been reaped. */
    private int inFlight;
    /**
     * A completion made without the kernel (a cancel) waits for a reaping call, and an event loop calls one only when
     * the completion fd is readable: a doorbell NOP ({@link RequestSqes#writeDoorbell}) goes to the kernel with the
     * next submission to make it so. Before, a cancelled request's fd stayed quiet, and a loop asleep on it never
     * delivered the cancellation. Wanted: not yet in an SQE; in the kernel: its CQE not yet reaped (one at a time,
     * counted in {@link #inFlight}). Owner thread.
     */
    private boolean doorbellWanted;
    private boolean doorbellInKernel;
    /** The last submit failed with EAGAIN/EBUSY: wait for a completion before trying again. */
    private boolean blocked;
    private boolean ringFdRegistrationTried;
    /** The thread that registered the ring fd (the only one that may enter the ring), or null. */
    private Thread enterThread;
    /** Statistics for tests. */
    long eagainCount;
    long backlogCount;
    long resubmitCount;

    private IoUringEngine(int entries, Function<RingClient, SharedRing> lender, SpinWindow spinWindow,
                          boolean deferred) {
        if (entries < 1) {
            throw new IllegalArgumentException("entries must be positive");
        }
        Availability availability = availability();
        if (!availability.available()) {
            throw new IllegalStateException("io_uring is unavailable: " + availability.reason());
        }
        EngineMemory mem = new EngineMemory();
        IoUringRing r = null;
        SharedRing s = null;
        try {
            pollFd = mem.allocate(Poll.POLLFD_SIZE, 8);
            if (lender != null) {
                s = lender.apply(this::hostCompletion);
            } else {
                // open()'s ring runs task work cooperatively (IoUringRing.createCooperative): poll() enters when
                // IORING_SQ_TASKRUN says a completion waits. A sleeping owner is still woken, so the ring fd still
                // wakes an event loop's epoll/poll (strace of blockloop bench --fdmon poll -i io_uring: each ppoll
                // returns with the ring fd readable, then one enter reaps the CQE).
                r = deferred ? IoUringRing.create(entries, DEFERRED_SETUP_FLAGS)
                        : IoUringRing.createCooperative(entries);
            }
        } catch (RuntimeException | Error e) {
            mem.close();
            throw e;
        }
        memory = mem;
        ring = r;
        shared = s;
        this.deferred = deferred;
        this.cooperative = r != null && (r.setupFlags() & LibUring.IORING_SETUP_TASKRUN_FLAG()) != 0;
        if (deferred) {
            owner.check(); // SINGLE_ISSUER: the ring belongs to the task that set it up
        }
        maxInFlight = s != null ? Math.max(1, s.cqEntries() / 2) : ring.cqEntries();
        ownerSpin = new CompletionSpin(s == null ? spinWindow : new SpinWindow(0, 0), this::completionWaiting);
        pool = new RequestPool(mem, 0);
        admission = new RequestAdmission("io_uring", owner, pool);
        delivery = new CompletionDelivery(pool);
        MemorySegment iovecs = mem.allocate((long) FixedBuffers.MAX_BUFFERS * IoVec.SIZE, 8);
        fixed = new FixedBuffers(new FixedBuffers.Ring() {
            @Override
            public int register(MemorySegment table, int count) {
                return shared != null ? shared.registerBuffersOrErrno(table, count)
                        : ring.registerBuffersOrErrno(table, count);
            }

            @Override
            public int unregister() {
                return shared != null ? shared.unregisterBuffersOrErrno() : ring.unregisterBuffersOrErrno();
            }
        }, this::flushSqRing, iovecs);
        sqes = new RequestSqes(fixed, mem, s != null ? s.userDataTag() : 0);
    }

    /** Whether io_uring can be used in this process and, if not, why. */
    public static Availability availability() {
        return IoUringProbe.availability();
    }

    /** An engine with a {@value #DEFAULT_ENTRIES}-entry ring. Throws if io_uring is unavailable. */
    public static IoUringEngine open() {
        return open(DEFAULT_ENTRIES);
    }

    /** An engine with an SQ ring of {@code entries} (rounded up to a power of two by the kernel). */
    public static IoUringEngine open(int entries) {
        return open(entries, DEFAULT_MAX_SPIN);
    }

    /**
     * As {@link #open(int)}, with {@link #awaitCompletions}'s spin for the only request in flight at most
     * {@code maxSpin} ({@link Duration#ZERO}: never spin).
     */
    public static IoUringEngine open(int entries, Duration maxSpin) {
        return open(entries, new SpinWindow(maxSpin.toNanos(), 0));
    }

    /** Test seam: {@link #awaitCompletions}'s spin window as the test needs it. */
    static IoUringEngine open(int entries, SpinWindow spinWindow) {
        return new IoUringEngine(entries, null, spinWindow, false);
    }

    /** {@link #openDeferred(int, Duration)} with {@value #DEFAULT_ENTRIES} entries and a spin of up to 50 µs. */
    public static IoUringEngine openDeferred() {
        return openDeferred(DEFAULT_ENTRIES, DEFAULT_MAX_SPIN);
    }

    /**
     * An engine for a thread that drives it by {@link #awaitCompletions} alone, without an event loop: its ring is
     * set up the way fio sets up its own ({@code DEFER_TASKRUN}), so the kernel posts a completion when the owner
     * enters the ring to wait or reap, instead of interrupting it with task work as it arrives. Measured on the test
     * machine's busy host: about twice the queue-depth-1 rate of {@link #open(int, Duration)}
     * ({@code docs/engine-benchmarks.md}, "Analysis"). The price:
     * <ul>
     *   <li>the calling thread becomes the owner (the ring belongs to the task that set it up);</li>
     *   <li>{@link #completionFd()} is refused: the ring fd does not become readable while completions wait for the
     *       owner, so an event loop could sleep through them. An event loop uses {@link #open} or
     *       {@link #openShared};</li>
     *   <li>{@link #poll()} and {@link #processCompletions()} enter the ring when the kernel flags waiting
     *       completions ({@code IORING_SQ_TASKRUN}), and make no system call otherwise;</li>
     *   <li>{@link #close()} with requests in flight must run on the owner thread while it lives: only it can
     *       collect their completions. Another thread is refused then, and the engine stays open. After the owner
     *       ended, another thread's close completes those requests with {@code -ECANCELED}.</li>
     * </ul>
     * Throws if io_uring is unavailable or the kernel is older than 6.1 ({@code EINVAL}).
     */
    public static IoUringEngine openDeferred(int entries, Duration maxSpin) {
        return openDeferred(entries, new SpinWindow(maxSpin.toNanos(), 0));
    }

    /** Test seam: {@link #openDeferred(int, Duration)} with the spin window the test needs. */
    static IoUringEngine openDeferred(int entries, SpinWindow spinWindow) {
        return new IoUringEngine(entries, null, spinWindow, true);
    }

    /** Whether the engine's ring defers completions to its owner's entries ({@link #openDeferred}). Any thread. */
    public boolean deferred() {
        return deferred;
    }

    /**
     * An engine on an event loop's ring (see the class comment): {@code lender} is asked once, with the engine's
     * completion recorder, for the {@link SharedRing} (for example {@code monitor::share}). The calling thread must
     * be the loop's home thread, which becomes the owner.
     */
    public static IoUringEngine openShared(Function<RingClient, SharedRing> lender) {
        return new IoUringEngine(DEFAULT_ENTRIES, Objects.requireNonNull(lender, "lender"), new SpinWindow(0, 0),
                false);
    }

    /** Whether the engine's requests go on an event loop's ring ({@link #openShared}). Any thread. */
    public boolean onSharedRing() {
        return shared != null;
    }

    @Override
    public String name() {
        return "io_uring";
    }

    /**
     * The engine's state, for diagnostics (a test that waited in vain prints it): requests outstanding, in the
     * kernel and queued; on the owner thread of an open engine also its own ring's unconsumed SQEs, ready CQEs and
     * task-run flag. Any thread: from another thread the counters are a racy snapshot and the ring is not read
     * ({@link #close()} may unmap it meanwhile).
     */
    @Override
    public String toString() {
        StringBuilder s = new StringBuilder("io_uring engine (")
                .append(shared != null ? "on the loop's ring" : deferred ? "deferred ring" : "own ring")
                .append("): outstanding ").append(pool.inUse())
                .append(", in the kernel ").append(inFlight)
                .append(", queued ").append(pending.size());
        if (blocked) {
            s.append(", blocked until a completion (EAGAIN)");
        }
        if (shared != null) {
            s.append(", reaped by the loop ").append(reaped.size());
        } else if (!admission.isReleased() && !owner.isAnotherThread()) {
            s.append(", SQEs unconsumed ").append(ring.sqReady()).append(", CQEs ready ").append(ring.cqReady());
            if (deferred) {
                s.append(", task run pending ").append(ring.taskRunPending());
            }
        }
        if (admission.isClosed()) {
            s.append(", closed");
        }
        return s.append(')').toString();
    }

    /**
     * SQ ring size; on the loop's ring, the engine's share of it (requests it keeps in the kernel at most, half the
     * CQ ring). Any thread.
     */
    public int sqEntries() {
        return shared != null ? maxInFlight : ring.sqEntries();
    }

    /** Whether the owner registered the ring fd (false before its first submission, or if the kernel refused). */
    public boolean ringFdRegistered() {
        return enterThread != null;
    }

    // ---- fixed buffers ----------------------------------------------------------------------------------------

    /**
     * Registers {@code buffer} with the ring (io_uring's fixed buffers, {@link FixedBuffers}): reads and writes
     * whose data lies inside it go out as {@code READ_FIXED}/{@code WRITE_FIXED} and skip pinning the user's pages.
     * On the loop's ring the engine owns that ring's buffer table. False when the kernel refused (over
     * {@code RLIMIT_MEMLOCK}, for one) or the buffer does not qualify; nothing changes then. Owner thread.
     */
    @Override
    public boolean registerBuffer(MemorySegment buffer) {
        owner.check();
        admission.checkOpen();
        return fixed.add(Objects.requireNonNull(buffer, "buffer"));
    }

    @Override
    public boolean unregisterBuffer(MemorySegment buffer) {
        owner.check();
        admission.checkOpen();
        return fixed.remove(Objects.requireNonNull(buffer, "buffer"));
    }

    /** Buffers registered and usable. Owner thread. */
    public int registeredBuffers() {
        return fixed.size();
    }

    /** The errno of the last registration the kernel refused, 0 if none. Owner thread. */
    public int lastBufferRegistrationErrno() {
        return fixed.lastErrno();
    }

    /** Requests that went out as READ_FIXED/WRITE_FIXED; for tests. Owner thread. */
    long fixedRequests() {
        return fixed.fixedRequests;
    }

    /** Hands the SQEs in the SQ ring to the kernel before the buffer table changes; false if some stayed. */
    private boolean flushSqRing() {
        for (;;) {
            if ((shared != null ? shared.sqReady() : ring.sqReady()) == 0) {
                return true;
            }
            int ret;
            if (shared != null) {
                ret = shared.submitOrErrno();
            } else {
                registerRingFdOnce();
                // submitOrErrno(): release store of the SQ tail (pairs with smp_load_acquire(&rings->sq.tail) in
                // io_sqring_entries()), as in submitPending().
                ret = ring.submitOrErrno();
            }
            if (ret == -Errno.EINTR) {
                continue;
            }
            if (ret <= 0) {
                return false; // EAGAIN, EBUSY: they stay queued
            }
        }
    }

    // ---- submission -------------------------------------------------------------------------------------------

    @Override
    public long read(int fd, MemorySegment buffer, long offset, CompletionHandler handler, long tag) {
        return enqueue(admission.read(fd, buffer, offset, handler, tag));
    }

    @Override
    public long write(int fd, MemorySegment buffer, long offset, int flags, CompletionHandler handler, long tag) {
        return enqueue(admission.write(fd, buffer, offset, flags, handler, tag));
    }

    @Override
    public long readv(int fd, MemorySegment iov, int iovCount, long offset, CompletionHandler handler, long tag) {
        return enqueue(admission.readv(fd, iov, iovCount, offset, handler, tag));
    }

    @Override
    public long writev(int fd, MemorySegment iov, int iovCount, long offset, int flags, CompletionHandler handler,
                       long tag) {
        return enqueue(admission.writev(fd, iov, iovCount, offset, flags, handler, tag));
    }

    @Override
    public long fsync(int fd, CompletionHandler handler, long tag) {
        return enqueue(admission.sync(Request.OP_FSYNC, fd, handler, tag));
    }

    @Override
    public long fdatasync(int fd, CompletionHandler handler, long tag) {
        return enqueue(admission.sync(Request.OP_FDATASYNC, fd, handler, tag));
    }

    private long enqueue(Request r) {
        long id = r.id();
        pending.add(r);
        // QEMU's luring_do_submit: submit now outside a batch, or when the ring would be full anyway; a cooperative
        // own ring and the loop's ring also every REAP_SUBMIT_BATCH requests that handlers queue while reaping.
        if (blocked) {
            return id;
        }
        if (plugDepth == 0 || inFlight + pending.size() >= sqEntries()) {
            submitPending();
        } else if (delivery.reaping() && pending.size() >= REAP_SUBMIT_BATCH) {
            submitWhileReaping();
        }
        return id;
    }

    /**
     * {@link #REAP_SUBMIT_BATCH} requests were queued by handlers during a reaping pass: to the kernel now, on a
     * cooperative own ring and on the loop's ring. On the loop's ring the engine places them and submits them itself
     * ({@code io_uring_submit}, no wait); an {@code EAGAIN}/{@code EBUSY} leaves them in the SQ ring for the loop's
     * next wait, as does a thread that may not enter the ring. On a plain own ring they wait for the pass's end.
     */
    private void submitWhileReaping() {
        if (shared == null) {
            if (cooperative) {
                submitPending();
            }
            return;
        }
        placeOnSharedRing();
        if (shared.mayEnter()) {
            shared.submitOrErrno();
        }
    }

    @Override
    public boolean cancel(long request) {
        owner.check();
        Request r = pool.lookup(request);
        // A request being resubmitted for the rest of a short read has started: it is not cancellable.
        if (r == null || r.done > 0 || !pending.remove(r)) {
            return false;
        }
        delivery.finishLocally(r, -Errno.ECANCELED);
        ringDoorbell();
        return true;
    }

    /** Has the completion fd made readable for a completion made here (see {@link #doorbellWanted}). */
    private void ringDoorbell() {
        if (deferred || doorbellInKernel) {
            return; // no completion fd to wake (its owner reaps the local queue itself); or one rings already
        }
        doorbellWanted = true;
        if (plugDepth == 0 && !blocked) {
            submitPending();
        }
    }

    /** Puts the doorbell in {@code sqe}. Owner thread, when {@link #doorbellWanted} and the kernel has room. */
    private void placeDoorbell(MemorySegment sqe) {
        sqes.writeDoorbell(sqe);
        doorbellWanted = false;
        doorbellInKernel = true;
        inFlight++;
    }

    /** The doorbell's CQE was reaped, or the ring went down with it: nothing to deliver. Owner thread. */
    private void doorbellDone() {
        doorbellInKernel = false;
        inFlight--;
    }

    @Override
    public void plug() {
        owner.check();
        admission.checkNotReleased();
        plugDepth++;
        callerPlugs++;
    }

    @Override
    public void unplug() {
        owner.check();
        admission.checkNotReleased(); // io_uring's ring layer answered a bare "Already closed", the others nothing
        if (callerPlugs <= 0) {
            throw new IllegalStateException("unplug without plug");
        }
        callerPlugs--;
        endBatch();
    }

    private void endBatch() {
        if (--plugDepth == 0 && !blocked
                && (!pending.isEmpty() || doorbellWanted || (ring != null && ring.sqReady() > 0))) {
            submitPending();
        }
    }

    /**
     * QEMU's {@code ioq_submit}: moves pending requests into free SQEs (up to the CQ-size in-flight limit) and
     * enters the kernel, until the pending queue is empty or no room is left.
     */
    private void submitPending() {
        if (admission.isClosed() && !mayEnter()) {
            finishPendingOnClose();
            return;
        }
        if (shared != null) {
            placeOnSharedRing();
            return;
        }
        registerRingFdOnce();
        for (;;) {
            if (doorbellWanted && inFlight < maxInFlight) {
                MemorySegment sqe = ring.nextSqe();
                if (sqe != null) {
                    placeDoorbell(sqe);
                }
            }
            while (!pending.isEmpty() && inFlight < maxInFlight) {
                MemorySegment sqe = ring.nextSqe();
                if (sqe == null) {
                    break;
                }
                Request r = pending.poll();
                sqes.write(sqe, r);
                r.state = Request.STARTED;
                inFlight++;
            }
            if (ring.sqReady() == 0) {
                blocked = false;
                if (!pending.isEmpty()) {
                    backlogCount++;
                }
                return;
            }
            // submitOrErrno(): release store of the SQ tail (pairs with smp_load_acquire(&rings->sq.tail) in
            // io_sqring_entries()) publishes the plain SQE stores of sqes.write(), then io_uring_enter.
            int ret = ring.submitOrErrno();
            if (ret == -Errno.EINTR) {
                continue;
            }
            if (ret == -Errno.EAGAIN || ret == -Errno.EBUSY || ret == 0) {
                eagainCount++;
                // Out of kernel resources or CQ overflow: the SQEs stay in the SQ ring and go with the next
                // submit. If requests are really in the kernel, their completions trigger it; otherwise the next
                // reaping call or submission retries.
                blocked = inFlight > ring.sqReady();
                return;
            }
            NativeCallException.check("io_uring_submit", ret);
            // Progress: loop to place more pending requests and to push any SQEs the kernel left in the ring.
        }
    }

    /**
     * {@link #submitPending()} on the loop's ring: places pending requests in SQEs, which the loop's next wait
     * submits (the SQE stores are published by the monitor's release store of the SQ tail in that submit).
     * {@link SharedRing#nextSqe()} itself submits when the SQ ring is full; if that made no room (EAGAIN, EBUSY),
     * the rest waits for a completion.
     */
    private void placeOnSharedRing() {
        if (doorbellWanted && inFlight < maxInFlight) {
            MemorySegment sqe = shared.nextSqe();
            if (sqe != null) {
                placeDoorbell(sqe);
            }
        }
        while (!pending.isEmpty() && inFlight < maxInFlight) {
            MemorySegment sqe = shared.nextSqe();
            if (sqe == null) {
                eagainCount++;
                blocked = inFlight > 0;
                break;
            }
            Request r = pending.poll();
            sqes.write(sqe, r);
            r.state = Request.STARTED;
            inFlight++;
        }
        if (!blocked && !pending.isEmpty()) {
            backlogCount++;
        }
    }

    /**
     * Whether the calling thread may enter the ring (the ring fd is unregistered or registered by it; the ring
     * settles a stale {@link Thread#currentThread()} in a moved coroutine with the kernel's thread id).
     */
    private boolean mayEnter() {
        return shared != null ? shared.mayEnter() && !shared.isClosed() : ring.mayEnter();
    }

    /**
     * Closing on a thread that may not enter the ring: what waits in the pending queue is finished here with
     * {@code -ECANCELED}, the remainder of a short read too. (Until session 26 such a remainder was taken for the end
     * of the file and its read reported whole, zero-filled past what was read; but a short read is not always the
     * end of the file, and the rest was never read.)
     */
    private void finishPendingOnClose() {
        Request r;
        while ((r = pending.poll()) != null) {
            delivery.finishLocally(r, -Errno.ECANCELED);
        }
    }

    /**
     * Closing on a thread that may not enter the ring while the only requests left sit in SQEs the kernel never
     * consumed (an earlier submit answered EAGAIN), on the loop's ring after the loop's monitor closed (which
     * took every request on it down), or on a deferred ring after its owner ended (whose completions nobody can
     * post any more): they will never complete, so they are finished here, with {@code -ECANCELED} (see
     * {@link #finishPendingOnClose}). Every request still {@code STARTED} is one of them, since all others have
     * completed.
     */
    private void finishUnsubmittedSqes() {
        if (doorbellInKernel) {
            doorbellDone();
        }
        for (int i = 0; i < pool.capacity(); i++) {
            Request r = pool.byIndex(i);
            if (r.state == Request.STARTED) {
                inFlight--;
                delivery.finishLocally(r, -Errno.ECANCELED);
            }
        }
    }

    /** {@link SharedRing#cancelUnsubmitted} turned the SQE of slot {@code index} into a no-op: finish it here. */
    private void finishUnsubmittedSqe(long index) {
        if (index == RequestSqes.DOORBELL_INDEX) {
            doorbellDone();
            return;
        }
        Request r = pool.byIndex(index);
        inFlight--;
        delivery.finishLocally(r, -Errno.ECANCELED);
    }

    private void registerRingFdOnce() {
        if (!ringFdRegistrationTried) {
            ringFdRegistrationTried = true;
            if (ring.registerRingFd()) {
                enterThread = Thread.currentThread();
            }
        }
    }

    // ---- completion -------------------------------------------------------------------------------------------

    /**
     * The ring fd: {@code POLLIN} while CQEs are waiting; on the loop's ring, the fd the loop's monitor reports
     * readable when it reaped completions for the engine (see the class comment).
     */
    @Override
    public int completionFd() {
        if (deferred) {
            throw new UnsupportedOperationException("io_uring engine opened with openDeferred: its completions are "
                    + "posted only when its owner enters the ring, so no fd reports them; drive it with "
                    + "awaitCompletions, or open it with open() or openShared() for an event loop");
        }
        admission.checkNotReleased(); // its number may belong to another file by now
        return shared != null ? shared.fd() : ring.fd();
    }

    /**
     * The loop's monitor reaped the CQE of the request in slot {@code index} (on the loop's ring): records it for
     * the next {@link #processCompletions()}. Owner thread, inside the monitor's reaping.
     */
    private void hostCompletion(long index, int res) {
        if (index == RequestSqes.DOORBELL_INDEX) {
            doorbellDone(); // the monitor reports the fd readable for it: that was its job
            return;
        }
        Request r = pool.byIndex(index);
        assert r.state == Request.STARTED : "CQE for a request not in the kernel";
        r.result = res;
        reaped.add(r);
    }

    @Override
    public int poll() {
        owner.check();
        admission.checkNotReleased();
        if (delivery.tooDeepToReap()) {
            return 0;
        }
        return reap(0);
    }

    /** Same as {@link #poll()}: the ring fd's readiness follows the CQ ring, there is nothing to reset. */
    @Override
    public int processCompletions() {
        owner.check();
        admission.checkNotReleased();
        if (delivery.tooDeepToReap()) {
            return 0;
        }
        return reap(0);
    }

    @Override
    public int awaitCompletions(long timeoutNanos) {
        owner.check();
        admission.checkNotReleased();
        if (delivery.tooDeepToReap()) {
            return 0;
        }
        int delivered = reap(0);
        if (delivered == 0 && sendHeldBack()) {
            delivered = reap(0); // a request the kernel completed as it came, or a NOP's refusal, is ready now
        }
        ownerSpin.reaped(delivered);
        if (shared != null && delivered == 0 && inFlight > 0) {
            // The loop's next wait would submit what is queued; without the loop, submit it now.
            shared.submitOrErrno();
        }
        if (delivered > 0 || inFlight == 0) {
            return delivered;
        }
        return ownerSpin.awaitDelivery(timeoutNanos, inKernel, onlyOneOutstanding, reapWaiting);
    }

    /** Whether exactly one request is outstanding, and in the kernel: when the owner may spin for it. Owner thread. */
    private boolean onlyOneRequestOutstanding() {
        return inFlight == 1 && pool.inUse() == 1;
    }

    /**
     * A wait must not hold back what it waits for: hands the kernel the requests a batch holds, those of an open
     * {@link #plug()} or of the handlers of the reaping call this wait is nested in (on the loop's ring: places them
     * in its SQ ring, for the submit that follows). Without it such a wait returned 0 at once, its requests still
     * queued. Returns whether there were any. Owner thread.
     */
    private boolean sendHeldBack() {
        if (plugDepth == 0 || blocked || pending.isEmpty()) {
            return false;
        }
        submitPending();
        return true;
    }

    /**
     * Owner, spinning on its own ring: whether a CQE is posted or, on a cooperative ring, a completion waits for the
     * owner to enter ({@code IORING_SQ_TASKRUN}). The CQ tail's acquire load pairs with the kernel's
     * {@code smp_store_release} of {@code cq.tail} ({@link IoUringRing#cqReady()}); the reap that follows loads
     * it again, after entering if needed.
     */
    private boolean completionWaiting() {
        return ring.cqReady() > 0 || (cooperative && ring.taskRunPending());
    }

    /** The {@code IORING_SETUP_*} flags of the engine's own ring (for tests; 0 on the loop's ring). Any thread. */
    int ringSetupFlags() {
        return ring != null ? ring.setupFlags() : 0;
    }

    /** The fd of the engine's own ring (for tests; -1 on the loop's ring). Any thread. */
    int ringFd() {
        return ring != null ? ring.fd() : -1;
    }

    /** {@link #awaitCompletions}'s spin (for tests). Owner thread. */
    CompletionSpin ownerSpin() {
        return ownerSpin;
    }

    @Override
    public int outstanding() {
        return pool.inUse();
    }

    /** Requests in the SQ/CQ rings. Owner thread. */
    int inFlight() {
        return inFlight;
    }

    /**
     * Delivers cancelled requests and reaps CQEs inside a batching section; then hands pending (and resubmitted)
     * requests to the kernel. {@code waitNanos != 0}: first wait for a CQE ({@code < 0}: no limit).
     */
    private int reap(long waitNanos) {
        plugDepth++;
        delivery.enterReap();
        int delivered = 0;
        try {
            if (cooperative && ring.taskRunPending() && !owner.isAnotherThread()) { // only the owner may post them
                postWaitingCompletions();
            }
            if (waitNanos != 0 && (shared != null ? reaped.isEmpty() : ring.cqReady() == 0)) {
                waitForCqe(waitNanos);
            }
            // Bounded, like LinuxAioEngine.reap: only what was ready when we looked, so resubmitting handlers and
            // inline completions cannot keep one call going forever. (Readiness of the ring fd follows the CQ
            // contents, so nothing left behind goes unnoticed.)
            delivered += delivery.deliverFinishedLocally();
            delivered += shared != null ? deliverReaped() : reapCq();
        } finally {
            delivery.exitReap();
            endBatch();
        }
        delivery.rethrowIfOutermost();
        return delivered;
    }

    /**
     * Cooperative ring, owner: has the kernel post the completions that wait for the owner ({@code IORING_SQ_TASKRUN}
     * is up). liburing's submit enters the ring with {@code GETEVENTS} when that flag is up, even with nothing to
     * submit; SQEs left in the SQ ring by an earlier {@code EAGAIN} go with it, and were counted in flight already.
     */
    private void postWaitingCompletions() {
        int ret = ring.submitOrErrno();
        if (ret < 0 && ret != -Errno.EAGAIN && ret != -Errno.EBUSY && ret != -Errno.EINTR) {
            throw new NativeCallException("io_uring_submit (post waiting completions)", -ret);
        }
    }

    private void waitForCqe(long waitNanos) {
        if (shared != null) {
            shared.awaitCompletions(waitNanos);
            return;
        }
        if (ring.mayEnter()) {
            ring.waitCqeTimeout(waitNanos);
        } else {
            // Not the registering thread (close from another thread): never enter the ring, poll its fd.
            Poll.set(pollFd, 0, ring.fd(), Poll.POLLIN);
            Poll.ppollOrErrno(pollFd, 1, waitNanos);
        }
    }

    /**
     * Reaps the CQEs ready at the start, one at a time (head and tail re-read each time, see the class comment).
     */
    private int reapCq() {
        int n = 0;
        int delivered = 0;
        int ready = ring.cqReady();
        // cqReady(): acquire load of the CQ tail, pairs with smp_store_release(&rings->cq.tail) in
        // io_commit_cqring(), so the CQE fields read below are the ones the kernel wrote.
        while (n < ready && ring.cqReady() > 0) {
            int head = ring.cqHead();
            long index = ring.cqeUserData(head);
            int res = ring.cqeRes(head);
            // cqAdvance(): release store of the CQ head, so the two loads above complete before the kernel (which
            // reads cq.head before reusing a slot) may overwrite this CQE.
            ring.cqAdvance(1);
            if (index == RequestSqes.DOORBELL_INDEX) {
                doorbellDone();
            } else if (complete(pool.byIndex(index), res)) {
                delivered++;
            }
            n++;
        }
        return delivered;
    }

    /**
     * Delivers the completions the loop's monitor recorded, at most as many as there were at the start (bounded).
     * A handler that reaps again (nested) takes the rest from the same queue, so the queue may run dry first.
     */
    private int deliverReaped() {
        int count = reaped.size();
        int n = 0;
        int delivered = 0;
        Request r;
        while (n < count && (r = reaped.poll()) != null) {
            if (complete(r, (int) r.result)) {
                delivered++;
            }
            n++;
        }
        return delivered;
    }

    /**
     * QEMU's {@code luring_process_completions} rules for one CQE. Returns whether the request was delivered, not
     * resubmitted: {@code awaitCompletions} counts deliveries (it had returned 1 for a read across EOF whose first
     * CQE only sent it back for the rest, with nothing delivered).
     */
    private boolean complete(Request r, int res) {
        assert r.state == Request.STARTED : "CQE for a request not in the kernel";
        inFlight--;
        blocked = false;
        if (r.memoryGone) {
            r.memoryGone = false;
            res = -Errno.EFAULT; // the CQE of the NOP that took its place (RequestSqes.write)
        }
        if (res == -Errno.EAGAIN || res == -Errno.EINTR) {
            resubmit(r);
            return false;
        }
        long result;
        if (!r.isTransfer()) {
            result = res;
        } else if (res < 0) {
            result = r.finishError(res);
        } else {
            long total = r.done + res;
            if (total < r.length && r.isRead() && res > 0) {
                r.done = total; // short read: ask again for the rest (QEMU's luring_resubmit_short_read)
                resubmit(r);
                return false;
            }
            result = r.finishTransfer(total);
        }
        r.result = result;
        r.state = Request.DONE;
        delivery.deliver(r);
        return true;
    }

    private void resubmit(Request r) {
        resubmitCount++;
        r.state = Request.QUEUED;
        pending.add(r); // submitted when the reaping call's batch ends
    }

    // ---- close ------------------------------------------------------------------------------------------------

    /**
     * Cancels the requests still in the pending queue ({@code -ECANCELED}), waits for the ones in the ring
     * (resubmitting EAGAIN and short-read remainders as usual when the calling thread may enter the ring),
     * delivers every completion, then unmaps and closes the ring and frees the engine's native memory. From a
     * thread other than the owner, see the class comment: it waits with {@code ppoll} on the ring fd. A deferred
     * ring ({@link #openDeferred}) with requests in flight is closed by its owner; another thread is refused while
     * the owner lives, and after the owner ended those requests complete with {@code -ECANCELED} (the owner's exit
     * made the kernel finish them, but only the owner could have posted their results).
     */
    @Override
    public void close() {
        if (admission.isClosed()) {
            return;
        }
        if (deferred && inFlight > 0 && owner.isAnotherLiveThread()) {
            throw new IllegalStateException(owner.describe() + ": " + inFlight + " requests in flight on a deferred "
                    + "ring (openDeferred), whose completions only the owner can collect: close it on the owner "
                    + "thread, or after that thread ended (the engine stays open)");
        }
        delivery.checkNotReaping(name(), owner);
        admission.close();
        // Close ends a batch the caller left open (an exception between plug and unplug): a request sent back for
        // the rest of a short read waits for the batch's end to be submitted, and close spun on it for ever.
        plugDepth = 0;
        callerPlugs = 0;
        doorbellWanted = false; // what it would signal, close delivers itself
        ringFdRegistrationTried = true; // a closing thread must never register the ring fd in its own table
        Throwable thrown = null;
        try {
            delivery.cancelAll(pending);
            if (deferred && inFlight > 0 && owner.isAnotherThread()) {
                // A deferred ring closed after its owner ended (while it lives, the close was refused above). The
                // owner's exit made the kernel finish or cancel each of its requests before the thread was gone,
                // but their completions wait for the owner, who alone could post them: they end as cancelled.
                finishUnsubmittedSqes();
            }
            while (inFlight > 0 || delivery.hasFinishedLocally() || !pending.isEmpty() || !reaped.isEmpty()) {
                if (inFlight > 0 && ring != null && inFlight == ring.sqReady() && !mayEnter()) {
                    finishUnsubmittedSqes();
                }
                if (inFlight > 0 && shared != null) {
                    if (shared.isClosed()) {
                        // The loop's monitor closed first: its ring went down with every request on it.
                        finishUnsubmittedSqes();
                    } else if (!shared.mayEnter()) {
                        // Closing off the loop's thread while the loop is stopped: nobody will submit our SQEs.
                        shared.cancelUnsubmitted(this::finishUnsubmittedSqe);
                    }
                }
                try {
                    reap(inFlight > 0 ? TimeUnit.SECONDS.toNanos(1) : 0);
                } catch (RuntimeException | Error e) {
                    thrown = Handlers.add(thrown, e);
                }
            }
        } finally {
            admission.markReleased(); // first: whatever below fails, nothing may reap any more
            if (shared != null) {
                if (!shared.isClosed() && shared.mayEnter()) {
                    fixed.clear(); // the loop's ring outlives the engine: let the pages go
                }
                shared.detach();
            } else {
                ring.close();
            }
            memory.close();
        }
        Handlers.rethrow(thrown);
    }
}
