package io.blockloop.engine;

import io.blockloop.ffm.call.Availability;
import io.blockloop.ffm.errno.Errno;
import io.blockloop.ffm.errno.NativeCallException;
import io.blockloop.ffm.libaio.IoEvent;
import io.blockloop.ffm.libaio.Iocb;
import io.blockloop.ffm.libaio.LibAio;
import io.blockloop.ffm.libc.EventFd;
import io.blockloop.ffm.libc.Poll;

import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.function.BooleanSupplier;
import java.util.function.IntSupplier;
import java.util.function.LongToIntFunction;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Linux native AIO ({@code io_submit}/{@code io_getevents}), after QEMU's {@code block/linux-aio.c}.
 *
 * <ul>
 *   <li>One kernel context per engine, {@code io_setup(maxEvents)} (default {@value #DEFAULT_MAX_EVENTS}); at most
 *       {@code maxEvents} requests are in the kernel, the rest wait in the engine's pending queue.</li>
 *   <li>Every iocb carries {@code IOCB_FLAG_RESFD} with the engine's eventfd: {@link #completionFd()}. Except in an
 *       engine opened with {@link #openUnsignalled()} while its owner keeps signalling off
 *       ({@link #setSignalling}): there the kernel's completions leave the eventfd alone, and the owner sleeps in
 *       {@link #awaitCompletionsOrReadable} instead of watching it (an event loop's wait).</li>
 *   <li>Completions are reaped from the kernel's shared {@code aio_ring} when its header is one we understand
 *       ({@link AioCompletionRing}), with {@code io_getevents} otherwise; {@link #awaitCompletions} blocks in
 *       {@code io_getevents}.</li>
 *   <li>Spin (not in QEMU): with the shared ring, {@link #awaitCompletions} first spins for the completion of its
 *       only request in flight, for an adaptive window of at most {@code maxSpin} (default 50 µs;
 *       {@link CompletionSpin}). An event loop does not call it: it busy-polls {@link #poll()} itself.</li>
 *   <li>Submission is batched: inside {@link #plug()}/{@link #unplug()}, queued iocbs go out together in one
 *       {@code io_submit} at the outermost unplug, or as soon as {@code maxBatch} (default
 *       {@value #DEFAULT_MAX_BATCH}) are queued; while reaping, as soon as {@value #REAP_SUBMIT_BATCH} are, so that
 *       handlers' new requests reach the device during a long reaping pass. {@code io_submit} taking only a prefix
 *       leaves the rest queued; {@code -EAGAIN} leaves everything queued until a completion makes room; any other
 *       error belongs to the first iocb, which completes with it while the others go on.</li>
 *   <li>A short read is the end of the file: the tail is zero-filled. A short write completes with
 *       {@code -ENOSPC}.</li>
 * </ul>
 *
 * <p>Threads: all methods but {@link #close()} and {@link #completionFd()} on the owner thread (see
 * {@link IoEngine}). No locks. The kernel reads an iocb during {@code io_submit} (the syscall orders our plain
 * stores before it) and the iocb and buffers stay untouched until the event is reaped. Memory ordering against
 * the kernel is only in the completion ring; see {@link AioCompletionRing}.
 */
public final class LinuxAioEngine implements IoEngine {
    /** QEMU's {@code MAX_EVENTS}: the kernel context's size and the in-flight limit. */
    public static final int DEFAULT_MAX_EVENTS = 1024;
    /** QEMU's {@code DEFAULT_MAX_BATCH}: queued iocbs that force an {@code io_submit} inside a batch. */
    public static final int DEFAULT_MAX_BATCH = 32;
    /**
     * Queued iocbs that force an {@code io_submit} while completions are being reaped (not in QEMU, whose
     * completion callbacks submit one iocb per {@code io_submit}). A reaping pass that delivers many completions
     * would otherwise hold back every request its handlers submit until the pass ends, and the device's queue runs
     * low meanwhile: an event loop at queue depth 32 on a loop device reaped about 21 completions per pass.
     * Measured with {@code blockloop bench} against fio libaio (device-bound QD 32 writes, four alternating
     * rounds): 32 gave 0.93x–1.05x of fio, 8 gave 1.02x–1.40x; on the CPU-bound device 8 was also ahead for reads
     * (1.40x–1.65x against 1.32x–1.49x) and level for writes. 1 (QEMU's shape) and 4 were not better than 8 and
     * cost more system calls ({@code linux-aio/README.md}, engine notes).
     */
    static final int REAP_SUBMIT_BATCH = 8;
    /** The {@code aio_data} of the watch iocb ({@link #awaitCompletionsOrReadable}); requests carry pool indexes. */
    private static final long WATCH_DATA = -1L;

    private final OwnerThread owner = new OwnerThread();
    private final EngineMemory memory;
    private final EventFd eventFd;
    private final long ctx;
    private final AioCompletionRing ring;
    /** {@link #awaitCompletions}'s spin; off without the shared ring (nothing to watch). Owner thread. */
    private final CompletionSpin ownerSpin;
    /** {@link #reap(long)} in {@link CompletionSpin#await}'s terms (a negative wait: no limit). */
    private final LongToIntFunction reapWaiting = waitNanos -> reap(waitNanos < 0 ? Long.MAX_VALUE : waitNanos);
    /** {@link CompletionSpin#awaitDelivery}'s questions, made once: a lambda per call would allocate per request. */
    private final IntSupplier inKernel = this::inFlight;
    private final BooleanSupplier onlyOneOutstanding = this::onlyOneRequestOutstanding;
    private final int maxEvents;
    private final int maxBatch;
    /** {@code struct iocb *[maxEvents]} for io_submit. */
    private final MemorySegment iocbPointers;
    /** {@code struct io_event[maxEvents]} for io_getevents. */
    private final MemorySegment events;
    /** {@code struct timespec} for io_getevents. */
    private final MemorySegment timespec;
    private final RequestPool pool;
    private final RequestAdmission admission;
    /** Finished requests (from the kernel, submit errors, cancellations) and their handlers. Owner thread. */
    private final CompletionDelivery delivery;
    /** Accepted, not yet in the kernel. Owner thread. */
    private final RequestQueue pending = new RequestQueue();
    /** Open batches: the caller's {@code plug()}s and the reaping calls running; while above 0, requests wait. */
    private int plugDepth;
    /**
     * The caller's own {@link #plug()}s not yet undone: {@link #plugDepth} counts them and the reaping calls' batches
     * together, so an {@link #unplug()} without a {@code plug()} (in a handler) closed the reaping call's batch, and
     * requests submitted later outside any batch were never handed over. Owner thread.
     */
    private int callerPlugs;
    private int inFlight;
    /** The last io_submit answered EAGAIN: wait for a completion before trying again. */
    private boolean blocked;
    /** Statistics for tests: io_submit calls that answered EAGAIN, and times requests were left queued. */
    long eagainCount;
    long backlogCount;
    /** Whether {@link #setSignalling} may turn signalling off: opened with {@link #openUnsignalled}. */
    private final boolean ownerWaited;
    /**
     * Whether the iocbs submitted from now on signal {@link #eventFd} ({@code IOCB_FLAG_RESFD}); see
     * {@link #setSignalling}. Owner thread.
     */
    private boolean signalled;
    /** The {@code IOCB_CMD_POLL} of {@link #awaitCompletionsOrReadable}: in the kernel while {@link #watchArmed}. */
    private final MemorySegment watchIocb;
    private int watchedFd = -1;
    private boolean watchArmed;

    private LinuxAioEngine(int kernelEvents, int maxEvents, int maxBatch, boolean userspaceReap,
                           SpinWindow spinWindow) {
        this(kernelEvents, maxEvents, maxBatch, userspaceReap, spinWindow, false);
    }

    private LinuxAioEngine(int kernelEvents, int maxEvents, int maxBatch, boolean userspaceReap,
                           SpinWindow spinWindow, boolean ownerWaited) {
        if (kernelEvents < 1 || maxEvents < 1 || maxBatch < 1) {
            throw new IllegalArgumentException("kernelEvents, maxEvents and maxBatch must be positive");
        }
        Availability availability = availability();
        if (!availability.available()) {
            throw new IllegalStateException("linux-aio is unavailable: " + availability.reason());
        }
        this.maxEvents = maxEvents;
        this.maxBatch = maxBatch;
        EngineMemory mem = new EngineMemory();
        EventFd efd = null;
        long context = 0;
        try {
            iocbPointers = mem.allocate(8L * maxEvents, 8);
            events = mem.allocate(IoEvent.SIZE * maxEvents, 8);
            timespec = mem.allocate(16, 8);
            watchIocb = mem.allocate(Iocb.SIZE, 8);
            efd = EventFd.create();
            // One event more for the watch iocb, which is not a request and must not take a request's room.
            context = LibAio.setup(ownerWaited ? kernelEvents + 1 : kernelEvents);
        } catch (RuntimeException | Error e) {
            if (efd != null) {
                efd.close();
            }
            mem.close();
            throw e;
        }
        this.memory = mem;
        this.ownerWaited = ownerWaited;
        this.signalled = !ownerWaited;
        this.eventFd = efd;
        this.ctx = context;
        this.ring = userspaceReap ? AioCompletionRing.attach(context) : null;
        this.ownerSpin = new CompletionSpin(ring != null ? spinWindow : new SpinWindow(0, 0), this::eventPublished);
        this.pool = new RequestPool(mem, Iocb.SIZE);
        this.admission = new RequestAdmission("linux-aio", owner, pool);
        this.delivery = new CompletionDelivery(pool);
    }

    /** Whether {@code libaio.so.1} loads and {@code io_setup} works here, and if not, why. */
    public static Availability availability() {
        return LibAio.availability();
    }

    /** An engine with QEMU's sizes: 1024 events, batches of 32. Throws if linux-aio is unavailable. */
    public static LinuxAioEngine open() {
        return open(DEFAULT_MAX_EVENTS, DEFAULT_MAX_BATCH);
    }

    /** An engine whose kernel context holds {@code maxEvents} requests, submitting in batches of {@code maxBatch}. */
    public static LinuxAioEngine open(int maxEvents, int maxBatch) {
        return open(maxEvents, maxBatch, DEFAULT_MAX_SPIN);
    }

    /**
     * As {@link #open(int, int)}, with {@link #awaitCompletions}'s spin for the only request in flight at most
     * {@code maxSpin} ({@link Duration#ZERO}: never spin).
     */
    public static LinuxAioEngine open(int maxEvents, int maxBatch, Duration maxSpin) {
        return new LinuxAioEngine(maxEvents, maxEvents, maxBatch, true, new SpinWindow(maxSpin.toNanos(), 0));
    }

    /**
     * An engine with QEMU's sizes whose kernel completions do not signal {@link #completionFd()} until its owner
     * says so ({@link #setSignalling}): for an owner that sleeps in {@link #awaitCompletionsOrReadable} whenever
     * requests are in flight, as an event loop can when its own readiness shows on one fd (the io_uring monitor's
     * ring fd). The loop then sleeps in {@code io_getevents}, woken by the completion itself, as fio's libaio engine
     * is, instead of by the eventfd through its monitor: one hop and the eventfd's {@code read} fewer per wake-up.
     * The completion fd still becomes readable for completions made without the kernel (cancellations, refusals at
     * submission, a retry after {@code EAGAIN}), so a loop keeps watching it. Its kernel context has one event more
     * than {@link #open()}'s, for the watch. Throws if linux-aio is unavailable.
     */
    public static LinuxAioEngine openUnsignalled() {
        return openUnsignalled(DEFAULT_MAX_EVENTS, DEFAULT_MAX_BATCH);
    }

    /** Test seam: {@link #openUnsignalled()} with other sizes. */
    static LinuxAioEngine openUnsignalled(int maxEvents, int maxBatch) {
        return new LinuxAioEngine(maxEvents, maxEvents, maxBatch, true, new SpinWindow(DEFAULT_MAX_SPIN.toNanos(), 0),
                true);
    }

    /** Test seam: {@code userspaceReap = false} forces the {@code io_getevents} path. */
    static LinuxAioEngine open(int maxEvents, int maxBatch, boolean userspaceReap) {
        return new LinuxAioEngine(maxEvents, maxEvents, maxBatch, userspaceReap,
                new SpinWindow(DEFAULT_MAX_SPIN.toNanos(), 0));
    }

    /** Test seam: {@link #awaitCompletions}'s spin window as the test needs it. */
    static LinuxAioEngine open(int maxEvents, int maxBatch, SpinWindow spinWindow) {
        return new LinuxAioEngine(maxEvents, maxEvents, maxBatch, true, spinWindow);
    }

    /**
     * Test seam: a kernel context of {@code kernelEvents} with an engine limit of {@code maxEvents} above what the
     * kernel holds, so that {@code io_submit} answers {@code EAGAIN} and the retry path runs.
     */
    static LinuxAioEngine openOversubscribed(int kernelEvents, int maxEvents, int maxBatch) {
        return new LinuxAioEngine(kernelEvents, maxEvents, maxBatch, true, new SpinWindow(0, 0));
    }

    @Override
    public String name() {
        return "linux-aio";
    }

    /**
     * The engine's state, for diagnostics (a test that waited in vain prints it): requests outstanding, in the
     * kernel and queued; on the owner thread of an open engine also the events waiting in the kernel's
     * {@code aio_ring}. Any thread: from another thread the counters are a racy snapshot and the ring is not read
     * ({@link #close()} may unmap it meanwhile).
     */
    @Override
    public String toString() {
        StringBuilder s = new StringBuilder("linux-aio engine: outstanding ").append(pool.inUse())
                .append(", in the kernel ").append(inFlight)
                .append(", queued ").append(pending.size());
        if (blocked) {
            s.append(", blocked until a completion (EAGAIN)");
        }
        if (watchArmed) {
            s.append(", watching fd ").append(watchedFd);
        }
        if (ring != null && !admission.isReleased() && !owner.isAnotherThread()) {
            s.append(", events in the aio_ring ").append(eventsInRing());
        }
        if (admission.isClosed()) {
            s.append(", closed");
        }
        return s.toString();
    }

    /**
     * Whether the requests submitted now make {@link #completionFd()} readable when the kernel completes them: always
     * for {@link #open()}, as {@link #setSignalling} says after {@link #openUnsignalled}. Owner thread.
     */
    public boolean signalsKernelCompletions() {
        return signalled;
    }

    /**
     * Switches the eventfd signal of the kernel's completions for the requests submitted from now on (those in the
     * kernel keep theirs) in an engine opened {@linkplain #openUnsignalled() unsignalled}. An event loop sleeping in
     * the engine turns it on while it busy-polls the engine with success: on the test VM the loop device then
     * completed CPU-bound reads a fifth to a third faster with the signal and its wake-up of the loop's monitor than
     * without ({@code docs/qd1-reads-on-loop-devices.md}, session 24); and off when it sleeps, where the signal is a
     * hop on the request's path. Owner thread.
     *
     * @throws IllegalStateException for an engine from {@link #open()}, whose owner does not sleep in it
     */
    public void setSignalling(boolean on) {
        owner.check();
        if (!on && !ownerWaited) {
            throw new IllegalStateException("only an engine opened unsignalled (openUnsignalled) may stop signalling");
        }
        signalled = on;
    }

    /** Whether completions are reaped from the shared ring (true) or with io_getevents. */
    public boolean reapsFromUserspace() {
        return ring != null;
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

    /** Writes the slot's iocb for {@code r}, then queues it for io_submit (at once outside a batch). */
    private long enqueue(Request r) {
        prepareIocb(r);
        long id = r.id();
        pending.add(r);
        if (!blocked && (plugDepth == 0 || pending.size() >= batchLimit())) {
            submitPending();
        }
        return id;
    }

    private void prepareIocb(Request r) {
        int efd = signalled ? eventFd.fd() : -1;
        switch (r.op) {
            case Request.OP_READ -> Iocb.prepare(r.scratch, Iocb.IOCB_CMD_PREAD, r.fd, r.bufferAddress, r.length,
                    r.offset, 0, r.index, efd);
            case Request.OP_WRITE -> Iocb.prepare(r.scratch, Iocb.IOCB_CMD_PWRITE, r.fd, r.bufferAddress, r.length,
                    r.offset, r.rwFlags, r.index, efd);
            case Request.OP_READV -> Iocb.prepare(r.scratch, Iocb.IOCB_CMD_PREADV, r.fd, r.iovAddress, r.iovCount,
                    r.offset, 0, r.index, efd);
            case Request.OP_WRITEV -> Iocb.prepare(r.scratch, Iocb.IOCB_CMD_PWRITEV, r.fd, r.iovAddress, r.iovCount,
                    r.offset, r.rwFlags, r.index, efd);
            case Request.OP_FSYNC -> Iocb.prepare(r.scratch, Iocb.IOCB_CMD_FSYNC, r.fd, 0, 0, 0, 0, r.index, efd);
            case Request.OP_FDATASYNC -> Iocb.prepare(r.scratch, Iocb.IOCB_CMD_FDSYNC, r.fd, 0, 0, 0, 0, r.index, efd);
            default -> throw new IllegalStateException("unknown op " + r.op);
        }
    }

    /** QEMU's {@code laio_max_batch}: the batch size, shrunk to the room left in the kernel context. */
    /**
     * Queued iocbs that force an {@code io_submit}: {@code maxBatch}, or while reaping at most
     * {@link #REAP_SUBMIT_BATCH}; never more than the kernel context has room for.
     */
    private int batchLimit() {
        int limit = delivery.reaping() ? Math.min(maxBatch, REAP_SUBMIT_BATCH) : maxBatch;
        return Math.max(1, Math.min(limit, maxEvents - inFlight));
    }

    @Override
    public boolean cancel(long request) {
        owner.check();
        Request r = pool.lookup(request);
        if (r == null || !pending.remove(r)) {
            return false;
        }
        finishLocally(r, -Errno.ECANCELED);
        return true;
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
        if (--plugDepth == 0 && !blocked && !pending.isEmpty()) {
            submitPending();
        }
    }

    /** QEMU's {@code ioq_submit}: hands pending iocbs to the kernel, up to the in-flight limit. */
    private void submitPending() {
        while (!pending.isEmpty() && inFlight < maxEvents) {
            int n = Math.min(pending.size(), maxEvents - inFlight);
            Request r = pending.peek();
            for (int i = 0; i < n; i++) {
                iocbPointers.setAtIndex(JAVA_LONG, i, r.scratch.address());
                r = r.next;
            }
            int ret = LibAio.submitOrErrno(ctx, n, iocbPointers);
            if (ret == -Errno.EAGAIN || ret == 0) {
                eagainCount++;
                backlogCount++;
                // The kernel is out of request slots: keep everything queued. With requests in flight, their
                // completions trigger the retry; with none, make the completion fd readable so the loop retries.
                if (inFlight > 0) {
                    blocked = true;
                } else {
                    eventFd.signal();
                }
                return;
            }
            if (ret == -Errno.EINTR) {
                continue;
            }
            if (ret < 0) {
                // The first iocb was refused (EBADF, EINVAL, ...): it alone fails; the rest go on.
                finishLocally(pending.poll(), ret);
                continue;
            }
            for (int i = 0; i < ret; i++) {
                pending.poll().state = Request.STARTED;
            }
            inFlight += ret;
        }
        blocked = !pending.isEmpty();
        if (blocked) {
            backlogCount++;
        }
    }

    /** Completes {@code r} with {@code result} without the kernel; delivered by the next reaping call. */
    private void finishLocally(Request r, long result) {
        delivery.finishLocally(r, result);
        eventFd.signal();
    }

    // ---- completion -------------------------------------------------------------------------------------------

    @Override
    public int completionFd() {
        admission.checkNotReleased(); // its number may belong to another file by now
        return eventFd.fd();
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

    /**
     * With the shared ring: reaps first and resets the eventfd after, so the eventfd's {@code read} is not between a
     * completion and the request its handler submits (at queue depth 1 that path is the request rate). A
     * completion whose signal the reset consumed was in the ring before it, so the second reap, which looks after
     * the reset, takes it; a later one signals the eventfd again. The second reap is the only one: a loop until
     * the ring stays empty could run forever with a kernel that completes inline (see {@link #reap}). Without the
     * ring (io_getevents), the reset comes first, as in QEMU.
     */
    @Override
    public int processCompletions() {
        owner.check();
        admission.checkNotReleased();
        if (delivery.tooDeepToReap()) {
            return 0;
        }
        if (ring == null) {
            eventFd.drain();
            return reap(0);
        }
        int delivered = reap(0);
        eventFd.drain();
        // The drain is a system call that takes the eventfd's lock, which the kernel's signal took after it
        // published the ring's tail; the acquire load of the tail below sees every event whose signal it consumed.
        if (delivery.hasFinishedLocally() || ring.head() != ring.tailAcquire()) {
            delivered += reap(0);
        }
        return delivered;
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
            delivered = reap(0); // an iocb io_submit refused, or one the kernel completed as it came, is ready now
        }
        ownerSpin.reaped(delivered);
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
     * A wait must not hold back what it waits for: submits the iocbs a batch holds, those of an open {@link #plug()}
     * or of the handlers of the reaping call this wait is nested in. Without it such a wait returned 0 at once, its
     * requests still queued. Returns whether there were any. Owner thread.
     */
    private boolean sendHeldBack() {
        if (plugDepth == 0 || blocked || pending.isEmpty()) {
            return false;
        }
        submitPending();
        return true;
    }

    /**
     * Blocks in {@code io_getevents} until a request completes, {@code fd} is readable, or {@code timeoutNanos}
     * passes ({@code < 0}: no limit), and delivers what completed; returns how many. Completions already waiting
     * are delivered without blocking. An event loop's sleep, with {@code fd} the fd that shows the loop's other
     * work (the io_uring monitor's ring fd, readable while completions wait in its CQ ring): the wait watches it
     * with an {@code IOCB_CMD_POLL} for {@code POLLIN} in the engine's own context, armed here when it is not in
     * the kernel already and armed until it fires, so a loop asleep while nothing else happens submits it once.
     * Whether {@code fd} fired is the caller's to find out (its own readiness check); a return without completions
     * may be that, a timeout or a signal. Before it blocks it submits what a batch holds back, as
     * {@link #awaitCompletions} does. Never spins. Owner thread.
     *
     * @throws IllegalArgumentException when the watch is armed on another fd (the engine watches one fd, and only
     *                                  a readiness report takes the watch out of the kernel)
     * @throws IllegalStateException    for an engine from {@link #open()}, whose context has no room for the watch,
     *                                  or when nested in a reaping call deeper than {@link #canSleep()} allows
     */
    public int awaitCompletionsOrReadable(int fd, long timeoutNanos) {
        owner.check();
        admission.checkNotReleased();
        if (!ownerWaited) {
            throw new IllegalStateException("awaitCompletionsOrReadable needs an engine opened with openUnsignalled");
        }
        if (delivery.tooDeepToReap()) {
            throw new IllegalStateException("awaitCompletionsOrReadable nested too deep in reaping calls to deliver");
        }
        if (watchArmed && fd != watchedFd) {
            throw new IllegalArgumentException("the watch is armed on fd " + watchedFd + ", not " + fd);
        }
        int delivered = reap(0);
        if (delivered == 0 && sendHeldBack()) {
            delivered = reap(0);
        }
        if (delivered > 0) {
            return delivered;
        }
        if (!watchArmed) {
            armWatch(fd);
        }
        return reap(timeoutNanos < 0 ? Long.MAX_VALUE : Math.max(timeoutNanos, 1));
    }

    /**
     * Whether {@link #awaitCompletionsOrReadable} would block for a completion of this engine: requests are in the
     * kernel, and the caller is not nested so deep in reaping calls that none could be delivered. Owner thread.
     */
    public boolean canSleep() {
        return inFlight > 0 && !delivery.tooDeepToReap() && !admission.isReleased();
    }

    private void armWatch(int fd) {
        Iocb.prepare(watchIocb, Iocb.IOCB_CMD_POLL, fd, Poll.POLLIN, 0, 0, 0, WATCH_DATA, -1);
        iocbPointers.setAtIndex(JAVA_LONG, 0, watchIocb.address());
        while (true) {
            int ret = LibAio.submitOrErrno(ctx, 1, iocbPointers);
            if (ret == 1) {
                watchedFd = fd;
                watchArmed = true;
                return;
            }
            if (ret != -Errno.EINTR) {
                // EAGAIN cannot happen (io_setup reserved the watch's event); EBADF or EINVAL is the caller's fd.
                NativeCallException.check("io_submit(IOCB_CMD_POLL, fd " + fd + ")", ret == 0 ? -Errno.EAGAIN : ret);
            }
        }
    }

    /**
     * Owner, spinning: whether the shared ring holds an event. The tail's acquire load pairs with the kernel's
     * {@code smp_wmb()} before its tail store in {@code aio_complete()} ({@link AioCompletionRing#tailAcquire()});
     * the reap that follows loads it again.
     */
    private boolean eventPublished() {
        return ring.tailAcquire() != ring.head();
    }

    @Override
    public int outstanding() {
        return pool.inUse();
    }

    /** {@link #awaitCompletions}'s spin (for tests). Owner thread. */
    CompletionSpin ownerSpin() {
        return ownerSpin;
    }

    /**
     * Completions waiting in the shared {@code aio_ring} (for {@link #reapRing()}, {@link #toString()} and tests);
     * only when the engine reaps from it ({@link #reapsFromUserspace()}). The tail's acquire load is the one
     * {@link AioCompletionRing#tailAcquire()} describes. Owner thread.
     */
    int eventsInRing() {
        int ready = ring.tailAcquire() - ring.head();
        return ready < 0 ? ready + ring.size() : ready;
    }

    /**
     * Event slots in the kernel's {@code aio_ring} (for tests): what the kernel made of the {@code io_setup} size
     * ({@code ring->nr}, see {@link AioCompletionRing#size()}). The context admits at most one request fewer
     * ({@code fs/aio.c} starts {@code reqs_available} at {@code nr_events - 1}), and a request's slot comes back
     * only when its event is consumed. Only when the engine reaps from the ring ({@link #reapsFromUserspace()}).
     * Any thread: fixed at {@code io_setup}, and a final field of the ring.
     */
    int ringSize() {
        return ring.size();
    }

    /** Requests in the kernel. Owner thread. */
    int inFlight() {
        return inFlight;
    }

    /**
     * Delivers local completions and reaped events in a batching section, so handlers' new requests leave in one
     * io_submit at the end. {@code waitNanos > 0}: first block in io_getevents for at least one event.
     *
     * <p>Bounded: it delivers what was ready when it looked (the local queue's and the ring's contents at that
     * moment), not what completes meanwhile. Otherwise a handler that resubmits, with a full batch submitted at
     * once and a kernel that completes inline (reads of holes do), would keep one reaping call going forever.
     * Events left in the ring had their eventfd signal after the drain in {@link #processCompletions()}, or the
     * reap that follows the drain takes them, so the completion fd stays readable for those it leaves.
     */
    private int reap(long waitNanos) {
        plugDepth++;
        delivery.enterReap();
        int delivered = 0;
        try {
            if (waitNanos > 0) {
                takeEvents(1, waitNanos);
            }
            if (ring == null) {
                takeEvents(0, 0);
            }
            delivered += delivery.deliverFinishedLocally();
            if (ring != null) {
                delivered += reapRing();
            }
        } finally {
            delivery.exitReap();
            endBatch();
        }
        delivery.rethrowIfOutermost();
        return delivered;
    }

    /**
     * Reaps the shared ring: QEMU's io_getevents_peek/commit. At most the events present at the start; one at a
     * time, re-reading head and tail each time, because a handler may reap again (nested) and move the head past
     * anything cached here.
     */
    private int reapRing() {
        int ready = eventsInRing();
        int n = 0;
        while (n < ready) {
            int head = ring.head();
            if (head == ring.tailAcquire()) {
                break; // a nested reaping call took the rest
            }
            long index = ring.data(head);
            long res = ring.res(head);
            ring.headRelease(ring.next(head));
            if (index == WATCH_DATA) {
                watchArmed = false; // not a request: not counted as delivered
                ready--;
                continue;
            }
            complete(pool.byIndex(index), res);
            n++;
        }
        return n;
    }

    /**
     * {@code io_getevents(min, maxEvents)}, waiting up to {@code timeoutNanos} ({@link Long#MAX_VALUE}: no limit)
     * for {@code min} events, which go into the delivery's local queue.
     */
    private void takeEvents(int min, long timeoutNanos) {
        if (inFlight == 0 && !watchArmed) {
            return;
        }
        MemorySegment timeout = MemorySegment.NULL;
        if (timeoutNanos != Long.MAX_VALUE) {
            timespec.set(JAVA_LONG, 0, timeoutNanos / 1_000_000_000L);
            timespec.set(JAVA_LONG, 8, timeoutNanos % 1_000_000_000L);
            timeout = timespec;
        }
        int ret = LibAio.getEventsOrErrno(ctx, min, maxEvents, events, timeout);
        if (ret == -Errno.EINTR) {
            return;
        }
        NativeCallException.check("io_getevents", ret);
        // Every result out of the shared events array and into the delivery's local queue before any handler runs:
        // a handler may reap again, and then delivers the rest of this batch from that queue. Kept in a list of
        // this call's own, they still counted in flight, and a nested awaitCompletions waited in io_getevents for
        // events the kernel had already handed out: for ever.
        for (int i = 0; i < ret; i++) {
            long data = IoEvent.data(events, i);
            if (data == WATCH_DATA) {
                watchArmed = false;
                continue;
            }
            Request r = pool.byIndex(data);
            delivery.finishLocally(r, taken(r, IoEvent.res(events, i)));
        }
    }

    private void complete(Request r, long res) {
        r.result = taken(r, res);
        r.state = Request.DONE;
        delivery.deliver(r);
    }

    /**
     * Takes {@code r} out of the kernel's count and turns the kernel's {@code res} into its result (QEMU's
     * {@code qemu_laio_process_completion}).
     */
    private long taken(Request r, long res) {
        assert r.state == Request.STARTED : "event for a request not in the kernel";
        inFlight--;
        blocked = false;
        return res < 0 || !r.isTransfer() ? res : r.finishTransfer(res);
    }

    // ---- close ------------------------------------------------------------------------------------------------

    @Override
    public void close() {
        if (admission.isClosed()) {
            return;
        }
        delivery.checkNotReaping(name(), owner);
        admission.close();
        Throwable thrown = null;
        try {
            delivery.cancelAll(pending);
            // Everything in the kernel completes on its own (block and file AIO cannot be cancelled); wait for it
            // so no event is lost and no buffer is written after the caller gets it back.
            while (inFlight > 0 || delivery.hasFinishedLocally()) {
                try {
                    reap(inFlight > 0 ? 1_000_000_000L : 0);
                } catch (RuntimeException | Error e) {
                    thrown = Handlers.add(thrown, e);
                }
            }
        } finally {
            admission.markReleased(); // first: whatever below fails, nothing may reap any more
            LibAio.destroyOrErrno(ctx);
            eventFd.close();
            memory.close();
        }
        Handlers.rethrow(thrown);
    }
}
