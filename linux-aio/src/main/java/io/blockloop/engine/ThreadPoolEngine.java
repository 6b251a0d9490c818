package io.blockloop.engine;

import io.blockloop.ffm.call.Availability;
import io.blockloop.ffm.errno.Errno;
import io.blockloop.ffm.errno.NativeCallException;
import io.blockloop.ffm.libc.EventFd;
import io.blockloop.ffm.libc.FileIo;
import io.blockloop.ffm.libc.IoVec;
import io.blockloop.ffm.libc.Poll;

import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.LongToIntFunction;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Blocking {@code pread}/{@code pwrite} (and their vectored forms, {@code fsync}, {@code fdatasync} and arbitrary
 * {@link BlockingCall}s) on worker threads, after QEMU's {@code util/thread-pool.c}: the engine for files and
 * kernels where neither io_uring nor linux-aio is usable, and for work no kernel interface does asynchronously.
 *
 * <ul>
 *   <li>Workers: between {@code minThreads} (default 0) and {@code maxThreads} (default 64) platform daemon
 *       threads, created by the owner thread when a request finds no idle worker; a worker idle for
 *       {@code idleTimeout} (default 10 s) exits while more than {@code minThreads} are alive.</li>
 *   <li>Hand-off: the owner appends a batch of requests to the work queue in one monitor section. A worker that
 *       finishes a request, or has just started, takes the next queued one before it waits, so the owner
 *       {@code notify}s (or creates) workers only for the queued requests beyond those such "looking" workers will
 *       take. Under load many requests need no wake-up at all: HotSpot wakes notified waiters one at a time, as
 *       the monitor is released, and a worker that finishes meanwhile takes the request first (a third to half
 *       of the requests at queue depth 32 in the benchmark).</li>
 *   <li>Spin (not in QEMU): a worker that finishes the only running request, with none queued, spins up to
 *       {@code maxSpin} (default 50 µs, adaptive, one spinner at most: {@link WorkerSpin}) for the owner's next
 *       request before it waits. At queue depth 1 the next request then needs no {@code notify}, and the
 *       worker's vCPU does not halt in between; {@code blockloop bench -i threads -d 1} reads gained a quarter
 *       or more ({@code docs/qd1-reads-on-loop-devices.md}). Under load it does not run: other workers are
 *       running.</li>
 *   <li>The owner spins too (not in QEMU), in {@link #awaitCompletions} only, for the completion of its only
 *       request, before it sleeps on the eventfd: adaptive up to the same {@code maxSpin} ({@link CompletionSpin},
 *       as the other two engines do), yielding like the worker's spin. With both spinning, a queue-depth-1 round
 *       trip wakes nobody. An event loop does not call {@link #awaitCompletions}: it busy-polls {@link #poll()}
 *       itself. With more than one request in flight the owner does not spin (measured: a spinning owner took a
 *       CPU from the workers, and QD 32 lost 10–25 %); with requests slower than {@code maxSpin} the window stays
 *       at 0.</li>
 *   <li>Completion: a worker stores the result, pushes the request onto a lock-free done stack and, if the stack
 *       was empty, adds 1 to the engine's eventfd ({@link #completionFd()}), so one wake-up covers a burst.</li>
 *   <li>No allocation on the workers, by construction rather than by escape analysis: they use only the raw
 *       addresses the owner took ({@link PoolWork}), and write the eventfd from a native 8-byte 1 with
 *       {@code FileIo.writeOrErrno(int, long, long)}, which captures errno only after a failure.</li>
 *   <li>Cancel: a request still waiting for a worker completes with {@code -ECANCELED}; one a worker has taken
 *       finishes normally (QEMU's {@code THREAD_QUEUED} vs {@code THREAD_ACTIVE}).</li>
 *   <li>A read that reaches the end of the file is zero-filled; a write that makes no progress completes with
 *       {@code -ENOSPC}; {@code EINTR} is retried. After an {@code O_DIRECT} read came back short at an unaligned
 *       end of file, the {@code EINVAL} of reading on from there also means end of file (QEMU does the same).</li>
 * </ul>
 *
 * <p>Threads and memory ordering:
 * <ul>
 *   <li>Owner thread: everything in {@link IoEngine} except {@link #close()} (see there) and
 *       {@link #completionFd()}; it owns the request pool, the staging queue and the local-completion queue.</li>
 *   <li>Owner → worker: the owner fills a request, then appends it to the work queue holding the monitor of
 *       {@link #lock}; the worker takes it holding the same monitor, so the exit/enter pair orders the request's
 *       fields before the worker reads them. Cancellation removes a request under the monitor, so a request is
 *       either taken or cancelled, never both. (A monitor rather than a {@code ReentrantLock}: its
 *       {@code Condition.awaitNanos} allocates a queue node per wait, i.e. per request here; {@code Object.wait}
 *       allocates nothing on the Java heap.)</li>
 *   <li>{@link #lookingSoon} is a count only (no request passes through it): incremented by a worker before it
 *       looks at the queue, decremented under the monitor when it looks; the owner reads it under the monitor. A
 *       stale read can only make the owner wake a worker too many, never leave a request without a worker: a
 *       counted worker has not looked yet, so it will find what the owner left queued.</li>
 *   <li>{@link #queued} and {@link #running} are counts only, read by a finishing worker to decide whether to
 *       spin and by the spinner to stop; no request passes through them. A stale read can only make a spin start,
 *       end or be skipped wrongly; the request is always taken under the monitor, and the spinner stays counted
 *       in {@link #lookingSoon}, so the owner's accounting of who will look is unchanged.</li>
 *   <li>Worker → owner: the worker writes the result with plain stores, then publishes the request with a CAS on
 *       {@link #done} (volatile semantics: release); the owner takes the whole stack with {@code getAndSet}
 *       (acquire), which pairs with it, so the result is visible. The eventfd write happens after the CAS, and the
 *       owner drains the eventfd before taking the stack, so no completion is left without a wake-up.</li>
 * </ul>
 */
public final class ThreadPoolEngine implements IoEngine {
    public static final int DEFAULT_MIN_THREADS = 0;
    public static final int DEFAULT_MAX_THREADS = 64;
    public static final Duration DEFAULT_IDLE_TIMEOUT = Duration.ofSeconds(10);
    /** Staged requests that force a hand-off to the workers inside a batch. */
    static final int MAX_BATCH = 32;

    /** Pool numbers for thread names: an atomic counter for uniqueness only, no ordering needed. */
    private static final AtomicInteger POOL_IDS = new AtomicInteger();

    private final OwnerThread owner = new OwnerThread();
    private final EngineMemory memory;
    private final EventFd eventFd;
    private final MemorySegment pollFd;
    /** Request slots; each slot's scratch is one iovec, for FUA writes from a linear buffer (pwritev2, RWF_DSYNC). */
    private final RequestPool pool;
    private final RequestAdmission admission;
    /** Finished requests (from workers, cancellations) and their handlers. Owner thread. */
    private final CompletionDelivery delivery;
    /** Native 8-byte 1: what workers write to the eventfd, by raw address (no allocation per write). */
    private final long eventFdIncrement;
    /** Accepted inside a batch, not yet visible to workers. Owner thread. */
    private final RequestQueue staged = new RequestQueue();
    /** Open batches: the caller's {@code plug()}s and the reaping calls running; while above 0, requests wait. */
    private int plugDepth;
    /**
     * The caller's own {@link #plug()}s not yet undone: {@link #plugDepth} counts them and the reaping calls' batches
     * together, so an {@link #unplug()} without a {@code plug()} (in a handler) closed the reaping call's batch, and
     * requests submitted later outside any batch were never handed over. Owner thread.
     */
    private int callerPlugs;
    /** Statistics for tests: hand-offs that left requests waiting because every worker was busy. */
    long backlogCount;
    /** Statistics for tests: parked workers the owner woke. */
    long wakeups;

    private final int minThreads;
    private final int maxThreads;
    private final long idleNanos;
    private final String threadNamePrefix;
    private int threadsStarted;

    /**
     * Monitor guarding {@link #work}, {@link #workers}, {@link #idleThreads} and {@link #shutdown}; idle workers
     * {@code wait} on it.
     */
    private final Object lock = new Object();
    private final RequestQueue work = new RequestQueue();
    private final List<Thread> workers = new ArrayList<>();
    private int idleThreads;
    /** Volatile for the spinner only, which reads it without the monitor to stop spinning at close. */
    private volatile boolean shutdown;
    /**
     * Workers that will look at {@link #work} before they can wait: started ones, and ones that finished a request
     * and have not looked yet. The owner wakes and creates workers only for queued requests beyond these.
     * Incremented outside the lock, decremented under it when the worker looks.
     */
    private final AtomicInteger lookingSoon = new AtomicInteger();

    /** Requests the workers finished, newest first, linked through {@code Request.nextDone}. */
    private final AtomicReference<Request> done = new AtomicReference<>();

    /** Spin-before-park of the worker that finishes the only running request. */
    private final WorkerSpin spin;
    /** The owner's spin in {@link #awaitCompletions} while one request is in flight. Owner thread only. */
    private final CompletionSpin ownerSpin;
    /** Waits up to the given nanoseconds for the eventfd ({@code < 0}: no limit; 0: not at all), then reaps. */
    private final LongToIntFunction reapAfterWait = waitNanos -> {
        if (waitNanos != 0) {
            waitReadable(waitNanos);
        }
        return reap();
    };
    /**
     * {@code work.size()}, written under the monitor whenever the queue changes, read without it by a spinning
     * worker. It only ends the spin: the request itself is taken under the monitor.
     */
    private volatile int queued;
    /** Workers between taking a request and publishing it; a count only, read to decide whether to spin. */
    private final AtomicInteger running = new AtomicInteger();
    /** Statistics for tests: requests a spinning worker found without being woken. Written by the spinner only. */
    volatile long spinCatches;

    private ThreadPoolEngine(int minThreads, int maxThreads, Duration idleTimeout, WorkerSpin spin,
                             SpinWindow ownerSpin) {
        if (minThreads < 0 || maxThreads < 1 || minThreads > maxThreads) {
            throw new IllegalArgumentException("need 0 <= minThreads <= maxThreads, maxThreads >= 1");
        }
        this.spin = spin;
        this.ownerSpin = new CompletionSpin(ownerSpin, this::completionPublished);
        this.minThreads = minThreads;
        this.maxThreads = maxThreads;
        this.idleNanos = idleTimeout.toNanos();
        this.threadNamePrefix = "blockloop-pool-" + POOL_IDS.incrementAndGet() + "-";
        EngineMemory mem = new EngineMemory();
        try {
            pollFd = mem.allocate(Poll.POLLFD_SIZE, 8);
            MemorySegment one = mem.allocate(8, 8);
            one.set(JAVA_LONG, 0, 1);
            eventFdIncrement = one.address();
            eventFd = EventFd.create();
        } catch (RuntimeException | Error e) {
            mem.close();
            throw e;
        }
        memory = mem;
        pool = new RequestPool(mem, IoVec.SIZE);
        admission = new RequestAdmission("thread-pool", owner, pool);
        delivery = new CompletionDelivery(pool);
        synchronized (lock) {
            for (int i = 0; i < minThreads; i++) {
                spawnWorker();
            }
        }
    }

    /** Always available: it needs nothing but threads and {@code pread}/{@code pwrite}. */
    public static Availability availability() {
        return Availability.yes();
    }

    /** A pool with QEMU's defaults (0 to 64 workers, 10 s idle exit) and a spin of up to 50 µs. */
    public static ThreadPoolEngine open() {
        return open(DEFAULT_MAX_SPIN);
    }

    /** QEMU's defaults with a spin of up to {@code maxSpin} ({@link Duration#ZERO}: never). */
    public static ThreadPoolEngine open(Duration maxSpin) {
        return open(DEFAULT_MIN_THREADS, DEFAULT_MAX_THREADS, DEFAULT_IDLE_TIMEOUT, maxSpin);
    }

    public static ThreadPoolEngine open(int minThreads, int maxThreads, Duration idleTimeout) {
        return open(minThreads, maxThreads, idleTimeout, DEFAULT_MAX_SPIN);
    }

    /**
     * {@code maxSpin}: the longest a finishing worker spins for the next request, and the owner in
     * {@link #awaitCompletions} for the completion of its only request ({@link Duration#ZERO}: never).
     */
    public static ThreadPoolEngine open(int minThreads, int maxThreads, Duration idleTimeout, Duration maxSpin) {
        long nanos = maxSpin.toNanos();
        return new ThreadPoolEngine(minThreads, maxThreads, idleTimeout, new WorkerSpin(nanos),
                new SpinWindow(nanos, 0));
    }

    /** For tests: a pool whose workers' spin window starts where the test needs it; the owner does not spin. */
    static ThreadPoolEngine open(int minThreads, int maxThreads, Duration idleTimeout, WorkerSpin spin) {
        return open(minThreads, maxThreads, idleTimeout, spin, new SpinWindow(0, 0));
    }

    /** For tests: the workers' and the owner's spin windows as the test needs them. */
    static ThreadPoolEngine open(int minThreads, int maxThreads, Duration idleTimeout, WorkerSpin spin,
                                 SpinWindow ownerSpin) {
        return new ThreadPoolEngine(minThreads, maxThreads, idleTimeout, spin, ownerSpin);
    }

    @Override
    public String name() {
        return "threads";
    }

    /**
     * The engine's state, for diagnostics (a test that waited in vain prints it): requests outstanding, staged in
     * a batch, queued for a worker and running, and the workers. Any thread: the owner's counters are a racy
     * snapshot from another thread; the workers' are read under their monitor.
     */
    @Override
    public String toString() {
        StringBuilder s = new StringBuilder("thread pool engine: outstanding ").append(pool.inUse())
                .append(", staged ").append(staged.size());
        synchronized (lock) {
            s.append(", queued ").append(work.size())
                    .append(", running ").append(running.get())
                    .append(", workers ").append(workers.size()).append(" (idle ").append(idleThreads).append(')');
        }
        s.append(", finished not reaped ").append(done.get() != null ? "some" : "none");
        if (admission.isClosed()) {
            s.append(", closed");
        }
        return s.toString();
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

    /**
     * Runs {@code call} on a worker; its return value is the result. QEMU's {@code thread_pool_submit_aio}.
     * Owner thread.
     */
    public long submitCall(BlockingCall call, CompletionHandler handler, long tag) {
        return enqueue(admission.call(call, handler, tag));
    }

    private long enqueue(Request r) {
        long id = r.id();
        staged.add(r);
        if (plugDepth == 0 || staged.size() >= MAX_BATCH) {
            handOff();
        }
        return id;
    }

    /** Moves the staged requests to the work queue in one lock section, waking or creating workers for them. */
    private void handOff() {
        int n = staged.size();
        if (n == 0) {
            return;
        }
        synchronized (lock) {
            // Workers about to look take queued requests first (FIFO): only what they leave over needs a wake-up.
            int looking = lookingSoon.get();
            // A spinner counts as looking, but it looks only while it runs. One the scheduler took off its CPU (its
            // heartbeat is stale) may not run again for a time slice, so a parked worker is woken, or one started,
            // in its place; whichever of the two looks first takes the request.
            if (spin.held() && spin.staleAt(System.nanoTime())) {
                looking--;
            }
            int uncoveredBefore = Math.max(0, work.size() - looking);
            work.addAll(staged);
            queued = work.size();
            if (spin.missPending()) {
                spin.requestArrived(System.nanoTime());
            }
            int uncovered = Math.max(0, work.size() - looking);
            int wakes = Math.min(uncovered - uncoveredBefore, idleThreads);
            wakeups += wakes;
            int unserved = uncovered - idleThreads;
            while (unserved > 0 && workers.size() < maxThreads) {
                spawnWorker();
                unserved--;
            }
            if (unserved > 0) {
                backlogCount++;
            }
            // One wake per request neither an idle worker already woken nor a looking worker will take. (Waking one
            // worker and letting each woken worker wake the next was measured slower here.)
            for (int i = wakes; i > 0; i--) {
                lock.notify();
            }
        }
    }

    /** Caller holds the monitor of {@link #lock}. */
    private void spawnWorker() {
        Thread t = Thread.ofPlatform().daemon().name(threadNamePrefix + threadsStarted++).unstarted(this::workerLoop);
        workers.add(t);
        lookingSoon.incrementAndGet(); // its first act is to look at the queue
        t.start();
    }

    @Override
    public boolean cancel(long request) {
        owner.check();
        Request r = pool.lookup(request);
        if (r == null) {
            return false;
        }
        boolean removed = staged.remove(r);
        if (!removed) {
            synchronized (lock) {
                removed = work.remove(r);
                queued = work.size();
            }
        }
        if (removed) {
            finishLocally(r, -Errno.ECANCELED);
        }
        return removed;
    }

    private void finishLocally(Request r, long result) {
        delivery.finishLocally(r, result);
        eventFd.signal();
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
        if (--plugDepth == 0) {
            handOff();
        }
    }

    // ---- workers ----------------------------------------------------------------------------------------------

    private void workerLoop() {
        long missedSpin = -1; // when this worker's spin began, if it found nothing
        for (;;) {
            Request r;
            synchronized (lock) {
                if (missedSpin >= 0) {
                    spin.missed(missedSpin);
                    missedSpin = -1;
                }
                lookingSoon.decrementAndGet();
                r = takeWork();
                if (r == null) {
                    workers.remove(Thread.currentThread());
                    return;
                }
                running.incrementAndGet();
            }
            PoolWork.run(r);
            lookingSoon.incrementAndGet(); // it looks at the queue right after publishing (or spinning)
            try {
                publish(r);
            } catch (RuntimeException | Error e) {
                lookingSoon.decrementAndGet(); // this worker dies: it will not look
                running.decrementAndGet();
                throw e;
            }
            // Spin only when the pool is otherwise idle: a spinner then delays no other worker's request.
            if (running.decrementAndGet() == 0 && queued == 0 && spin.tryAcquire()) {
                missedSpin = spinForWork();
            }
        }
    }

    /**
     * Spinner: waits up to the spin window for the owner to queue a request. Still counted in
     * {@link #lookingSoon}, so the owner does not wake anyone for that request. Returns -1 when a request came
     * (the role is given up), else when the spin began (the worker reports the miss under the monitor); a close
     * ends the spin as a miss.
     *
     * <p>It yields rather than pausing: on a busy machine the owner, woken by this worker's completion, is often
     * queued on this very CPU, and a spin that keeps the CPU delays the request it waits for by the whole window
     * (measured: every miss then ended just after the window). When nothing else is runnable here,
     * {@code sched_yield} returns at once. When a CPU-bound process is runnable here, a yield can cost a whole time
     * slice; the heartbeat ({@link WorkerSpin#beat}) lets the owner see that and wake a parked worker instead.
     */
    private long spinForWork() {
        long start = System.nanoTime();
        long deadline = start + spin.window();
        spin.beat(start);
        while (queued == 0) {
            long now = System.nanoTime();
            if (shutdown || now - deadline >= 0) {
                return start;
            }
            spin.beat(now);
            Thread.yield();
        }
        spinCatches++; // only the role holder writes it
        spin.caught();
        return -1;
    }

    /** True while a worker holds the spinner's role (for tests). */
    boolean spinning() {
        return spin.held();
    }

    /**
     * Worker, holding the monitor: the next request, waiting for one if needed; null when the worker should exit
     * (shutdown with an empty queue, or idle for {@link #idleNanos} with more than {@link #minThreads} alive).
     */
    private Request takeWork() {
        for (;;) {
            Request r = work.poll();
            if (r != null) {
                queued = work.size();
                return r;
            }
            if (shutdown) {
                return null;
            }
            long start = System.nanoTime();
            idleThreads++;
            try {
                lock.wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(idleNanos)));
            } catch (InterruptedException e) {
                // nobody interrupts workers on purpose; look again
            } finally {
                idleThreads--;
            }
            boolean timedOut = System.nanoTime() - start >= idleNanos;
            if (timedOut && work.isEmpty() && workers.size() > minThreads) {
                return null; // timed out, nothing to do, and not needed to stay warm
            }
        }
    }

    /** Worker: hands a finished request to the owner. */
    private void publish(Request r) {
        Request head;
        do {
            head = done.get();
            r.nextDone = head;
        } while (!done.compareAndSet(head, r)); // release: the result stores above happen before the owner's take
        if (head == null) {
            signalOwner(); // first completion since the owner last emptied the stack: wake it
        }
    }

    /** Worker: adds 1 to the eventfd, allocating nothing (not even errno capture, unless the write fails). */
    private void signalOwner() {
        long ret = FileIo.writeOrErrno(eventFd.fd(), eventFdIncrement, 8);
        if (ret < 0 && ret != -Errno.EAGAIN) { // EAGAIN: the counter is saturated, so the fd is readable anyway
            throw new NativeCallException("write(eventfd)", (int) -ret);
        }
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
        return reap();
    }

    @Override
    public int processCompletions() {
        owner.check();
        admission.checkNotReleased();
        if (delivery.tooDeepToReap()) {
            return 0;
        }
        eventFd.drain();
        return reap();
    }

    @Override
    public int awaitCompletions(long timeoutNanos) {
        owner.check();
        admission.checkNotReleased();
        if (delivery.tooDeepToReap()) {
            return 0;
        }
        long deadline = timeoutNanos < 0 ? Long.MAX_VALUE : System.nanoTime() + timeoutNanos;
        for (;;) {
            int n = reap();
            ownerSpin.reaped(n);
            if (n > 0 || pool.inUse() == 0) {
                return n;
            }
            sendHeldBack();
            long left = deadline == Long.MAX_VALUE ? -1 : deadline - System.nanoTime();
            if (deadline != Long.MAX_VALUE && left <= 0) {
                return 0;
            }
            // The only request in flight: spin for its completion before sleeping, as a finishing worker spins for
            // the next request. With both spinning, a queue-depth-1 round trip wakes nobody. A wake-up that finds
            // nothing (another eventfd reader, a signal) loops while time is left.
            n = ownerSpin.await(left, pool.inUse() == 1, reapAfterWait);
            if (n > 0) {
                return n;
            }
        }
    }

    /**
     * A wait must not hold back what it waits for: hands the workers the requests a batch holds, those of an open
     * {@link #plug()} or of the handlers of the reaping call this wait is nested in. Without it such a wait slept
     * for its whole timeout, its requests still staged. Owner thread.
     */
    private void sendHeldBack() {
        if (plugDepth > 0) {
            handOff();
        }
    }

    /**
     * Owner, spinning: whether a worker has published a completion. Acquire (a volatile read): pairs with the
     * workers' CAS in {@link #publish}; {@link #takeDone()} takes the stack again with its own acquire.
     */
    private boolean completionPublished() {
        return done.get() != null;
    }

    private void waitReadable(long timeoutNanos) {
        Poll.set(pollFd, 0, eventFd.fd(), Poll.POLLIN);
        Poll.ppollOrErrno(pollFd, 1, timeoutNanos); // interrupted or timed out: the caller looks again
        eventFd.drain();
    }

    @Override
    public int outstanding() {
        return pool.inUse();
    }

    /** Workers parked waiting for a request (for tests). */
    int idleWorkers() {
        synchronized (lock) {
            return idleThreads;
        }
    }

    /** The owner's spin in {@link #awaitCompletions} (for tests). Owner thread. */
    CompletionSpin ownerSpin() {
        return ownerSpin;
    }

    /** The most workers this pool runs (for tests). Any thread: fixed when the engine opens. */
    int maxThreads() {
        return maxThreads;
    }

    /** Live worker threads (for tests). */
    int threads() {
        synchronized (lock) {
            return workers.size();
        }
    }

    private int reap() {
        plugDepth++;
        delivery.enterReap();
        int delivered = 0;
        try {
            // Bounded: the local queue as it is now and one take of the done stack. Requests finishing meanwhile
            // wait for the next call (their push onto the emptied stack signals the eventfd again).
            takeDone();
            delivered += delivery.deliverFinishedLocally();
        } finally {
            delivery.exitReap();
            endBatch();
        }
        delivery.rethrowIfOutermost();
        return delivered;
    }

    /**
     * Moves what the workers finished into the delivery's local queue, after what is there already, in the order
     * they finished. Into that queue before any handler runs: a handler that reaps again (nested) delivers the rest
     * from there. Kept in a list of the reaping call's own, they were invisible to it, and a nested
     * awaitCompletions waited for ever on the eventfd for requests already taken off the done stack.
     */
    private void takeDone() {
        // Acquire (getAndSet is volatile): pairs with the workers' CAS in publish(), so their result stores are
        // visible here.
        Request stack = done.getAndSet(null);
        Request fifo = null;
        while (stack != null) {
            Request next = stack.nextDone;
            stack.nextDone = fifo;
            fifo = stack;
            stack = next;
        }
        while (fifo != null) {
            Request next = fifo.nextDone;
            fifo.nextDone = null;
            long result = fifo.result;
            if (fifo.isTransfer()) {
                // On the owner thread: zero-filling touches the caller's (possibly confined) buffer.
                result = result < 0 ? fifo.finishError(result) : fifo.finishTransfer(result);
            }
            delivery.finishLocally(fifo, result);
            fifo = next;
        }
    }

    // ---- close ------------------------------------------------------------------------------------------------

    /**
     * Cancels the requests no worker has taken ({@code -ECANCELED}), waits for the running ones, delivers every
     * completion on the calling thread, stops and joins the workers, and releases the eventfd and native memory.
     * Waits as long as running requests take (a blocked {@code pread} blocks close).
     *
     * @throws IllegalStateException from one of the pool's own workers (a {@link BlockingCall}), which it would wait
     *                               for; from a completion handler, as every engine
     */
    @Override
    public void close() {
        boolean onWorker;
        synchronized (lock) {
            onWorker = workers.contains(Thread.currentThread());
        }
        if (onWorker) {
            // From a BlockingCall: it would wait for its own request, for ever, and a second close from the owner
            // then returned at once ("already closed"), leaking the eventfd, the memory and the thread.
            throw new IllegalStateException(name() + " closed from one of its own workers (inside a BlockingCall):"
                    + " it would wait for that very call; close it from the owner");
        }
        if (admission.isClosed()) {
            return;
        }
        delivery.checkNotReaping(name(), owner);
        admission.close();
        Throwable thrown = null;
        try {
            Request r;
            while ((r = staged.poll()) != null) {
                finishLocally(r, -Errno.ECANCELED);
            }
            RequestQueue cancelled = new RequestQueue();
            synchronized (lock) {
                cancelled.addAll(work);
                queued = 0;
                shutdown = true;
                lock.notifyAll();
            }
            while ((r = cancelled.poll()) != null) {
                finishLocally(r, -Errno.ECANCELED);
            }
            while (pool.inUse() > 0) {
                try {
                    if (reap() == 0 && pool.inUse() > 0) {
                        waitReadable(TimeUnit.SECONDS.toNanos(1));
                    }
                } catch (RuntimeException | Error e) {
                    thrown = Handlers.add(thrown, e);
                }
            }
        } finally {
            admission.markReleased(); // first: whatever below fails, nothing may reap any more
            joinWorkers();
            eventFd.close();
            memory.close();
        }
        Handlers.rethrow(thrown);
    }

    private void joinWorkers() {
        Thread[] threads;
        synchronized (lock) {
            shutdown = true;
            lock.notifyAll();
            threads = workers.toArray(new Thread[0]);
        }
        boolean interrupted = false;
        for (Thread t : threads) {
            for (;;) {
                try {
                    t.join();
                    break;
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }
}
