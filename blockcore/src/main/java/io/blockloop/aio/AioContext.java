package io.blockloop.aio;

import io.blockloop.coroutine.CoroutineSupport;
import io.blockloop.coroutine.ScheduledCoroutines;
import io.blockloop.fdmon.FdMonitor;
import io.blockloop.fdmon.FdMonitorKind;
import io.blockloop.fdmon.FdNode;
import io.blockloop.fdmon.IoUringFdMonitor;
import io.blockloop.fdmon.RingClient;
import io.blockloop.fdmon.SharedRing;
import io.blockloop.ffm.errno.Errno;
import io.blockloop.ffm.libc.EventFd;
import io.blockloop.ffm.libc.Fcntl;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

/**
 * An event loop: fd handlers, bottom halves and timers, driven by {@link #poll(boolean)} on one
 * <em>home thread</em> (QEMU's {@code AioContext}, {@code util/async.c} + {@code util/aio-posix.c}).
 *
 * <h2>One iteration ({@link #poll})</h2>
 * <ol>
 *   <li>timeout: 0 if not blocking or a BH is scheduled; else the nearest timer deadline (10 ms with only idle
 *       BHs), or none;</li>
 *   <li>adaptive busy polling of the handlers' poll checks, which may find work and lower the timeout;</li>
 *   <li>if the wait may block: announce it ({@code notifyMe}) and re-check {@code notified}, the notify
 *       protocol of {@link LoopNotifier}; leave busy-polling mode; wait in the {@link FdMonitor}, or in the
 *       {@linkplain #setSleeper sleeper} while it has completions to wait for. A non-blocking iteration still asks
 *       the monitor without blocking, unless busy polling just checked every handler or the monitor shows
 *       readiness in memory (io_uring) and has nothing pending; and polls the sleeper;</li>
 *   <li>accept the notification, then run a BH pass, then dispatch the ready handlers (and adapt their
 *       polling times), then drop deleted handlers (outermost poll only), then run expired timers.</li>
 * </ol>
 * {@code poll} returns whether it made <em>progress</em>: a BH (not idle), an fd or poll-ready callback, or a
 * timer ran. The context's own notifier and idle BHs are not progress. A callback may call {@code poll} again
 * (nested event loop); the nested call runs every pending BH exactly once and never re-enters a handler whose
 * poll-ready callback is running.
 *
 * <h2>Threads</h2>
 * <ul>
 *   <li>Home thread only: {@link #poll}, {@link #close} (or any thread once the loop has stopped for good).</li>
 *   <li>Any thread: {@link #notifyLoop}, {@link #scheduleOneShot}, {@link #newBottomHalf}, {@link #newTimer},
 *       the fd handler and event notifier methods, {@link #setPollParams}, {@link #nowNs}, and the getters.</li>
 *   <li>Callbacks of handlers, BHs and timers run on the home thread. An exception they throw is reported
 *       (System.Logger, logger {@code io.blockloop.aio}, and an optional listener) and the loop goes on.</li>
 * </ul>
 * There is no context lock. Cross-thread work reaches the loop through the lock-free BH queue, the timer list
 * (a small lock), and the fd handler table (a small lock), each followed by {@link #notifyLoop()}.
 *
 * <h2>Memory ordering</h2>
 * Publishing work (a volatile CAS for BHs, a lock release for timers and handlers) happens before
 * {@link #notifyLoop()}'s volatile store of {@code notified}; the loop clears {@code notified} with an atomic
 * exchange, whose read synchronizes with that store, before it looks at BHs and timers, so it sees everything
 * published before the notification it consumed. See {@link LoopNotifier} for the blocking side.
 */
public final class AioContext implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("io.blockloop.aio");
    private static final ThreadLocal<AioContext> CURRENT = new ThreadLocal<>();

    private final String name;
    private final Thread homeThread;
    private final FdMonitor monitor;
    private final LoopNotifier notifier = new LoopNotifier();
    private final BottomHalfQueue bottomHalves = new BottomHalfQueue();
    private final TimerList timers = new TimerList();
    private final FdHandlerTable handlers;
    private final AdaptivePoller poller = new AdaptivePoller(this);
    /** Persistent BHs created and not yet deleted: what close() reports as leaked. */
    private final Set<BottomHalf> liveBottomHalves = ConcurrentHashMap.newKeySet();
    /** Coroutines scheduled into this context (QEMU's scheduled_coroutines + co_schedule_bh). */
    private final ScheduledCoroutines scheduledCoroutines;
    /** {@link #setCallbackFailureListener}'s volatile store (any thread) pairs with the load in reportFailure(). */
    private volatile Consumer<CallbackFailure> failureListener;
    /**
     * Set by close(); its volatile store pairs with the loads in checkOpen(), isClosed() and current() on any
     * thread. A refusal check, not a lock: a call racing with close() may still pass it.
     */
    private volatile boolean closed;
    /**
     * {@link #runLastBottomHalves} has begun; written by the home thread, read by {@link #refusesTimers} anywhere.
     * Its volatile store pairs with those loads; it orders nothing else.
     */
    private volatile boolean lastPass;
    /**
     * {@link ContextLocal} values by index: replaced copy-on-write under {@code localsLock}, published with a
     * release store and read with an acquire load (the pair that makes a value's construction visible to every
     * thread that finds it).
     */
    private Object[] locals = new Object[0];
    private final Object localsLock = new Object();
    /** ContextLocals in creation order, for cleanup at close (guarded by localsLock). */
    private final List<ContextLocal<?>> localKeys = new ArrayList<>();
    /** Set when close() starts the cleanups: no value may be created after that (guarded by localsLock). */
    private boolean localsClosed;
    // ---- home thread ----
    private int depth;
    private PollPass[] passes = new PollPass[4];
    /** Written by the home thread only, through BLOCKING_WAITS; read by any thread (tests). */
    private long blockingWaits;
    /** {@link #setSleeper}'s source, or null. Home thread. */
    private LoopSleeper sleeper;
    /** The handler of the sleeper's completion fd, looked up again when deleted (see {@link #sleeperHandler()}). */
    private FdHandler sleeperHandler;

    private AioContext(String name, FdMonitor monitor, Thread homeThread) {
        this.name = Objects.requireNonNull(name, "name");
        this.monitor = Objects.requireNonNull(monitor, "monitor");
        this.homeThread = homeThread;
        this.handlers = new FdHandlerTable(monitor);
        EventFd doorbell = notifier.eventFd();
        try {
            // The context's own notifier: drained when its fd fires, polled through the `notified` flag.
            handlers.set(doorbell.fd(), FdCallbacks.read(notifier::drain).withPoll(notifier::notifiedAcquire, () -> {
            }), true);
        } catch (RuntimeException | Error e) {
            notifier.close();
            throw e;
        }
        this.scheduledCoroutines = ScheduledCoroutines.forContext(this);
    }

    /**
     * A new context whose home thread is the calling thread, with the monitor {@code kind} asks for (see
     * {@link FdMonitor#open}). Busy polling is off ({@link PollParams#OFF}) until {@link #setPollParams}.
     *
     * @throws IllegalStateException when an explicitly requested monitor is unavailable (the message says why)
     */
    public static AioContext create(String name, FdMonitorKind kind) {
        return create(name, FdMonitor.open(kind));
    }

    /** {@link #create(String, FdMonitorKind)} with {@link FdMonitorKind#AUTO}. */
    public static AioContext create(String name) {
        return create(name, FdMonitorKind.AUTO);
    }

    /**
     * A new context on the calling thread that takes ownership of {@code monitor} (which nothing else may use). It
     * becomes the thread's {@link #current()} context unless the thread has one already (an IOThread's, the main
     * loop's): a coroutine entered in its callbacks then belongs to it, and a wake from another thread is scheduled
     * here. Before, such a coroutine belonged to no context, and a wake from another thread ran it on the waker's.
     *
     * @throws IllegalStateException when the JVM runs without {@value CoroutineSupport#JVM_OPTION}, which every
     *                               context's coroutines need (the monitor is closed then)
     */
    public static AioContext create(String name, FdMonitor monitor) {
        try {
            CoroutineSupport.require();
            AioContext ctx = new AioContext(name, monitor, Thread.currentThread());
            if (current() == null) {
                CURRENT.set(ctx); // close() unbinds it
            }
            return ctx;
        } catch (RuntimeException | Error e) {
            monitor.close();
            throw e;
        }
    }

    /**
     * The context of the calling thread: the one its {@link IOThread} runs, the main context on the main loop's
     * thread, or the first open one {@link #create} made on it; null on any other thread or once that context is
     * closed. Any thread.
     */
    public static AioContext current() {
        AioContext c = CURRENT.get();
        return c == null || c.closed ? null : c;
    }

    /** The main loop's context (see {@link MainLoop}), or null when no main loop is initialised. Any thread. */
    public static AioContext main() {
        return MainLoop.context();
    }

    /** Makes this context the calling thread's {@link #current()} one. Home thread (IOThread, MainLoop). */
    void bindToCurrentThread() {
        checkHomeThread();
        CURRENT.set(this);
    }

    // ------------------------------------------------------------------ identity

    public String name() {
        return name;
    }

    /** The thread that drives this context. Any thread. */
    public Thread homeThread() {
        return homeThread;
    }

    /** Whether the calling thread is this context's home thread ({@code in_aio_context_home_thread}). Any thread. */
    public boolean inHomeThread() {
        return Thread.currentThread() == homeThread;
    }

    /**
     * The fd mechanism in use now: {@code "poll"}, {@code "epoll"} or {@code "io_uring"}. An epoll context says
     * {@code "poll"} until 64 fds are registered. Any thread.
     */
    public String monitorName() {
        return monitor.name();
    }

    /** The monitor that was asked for. Any thread. */
    public FdMonitorKind monitorKind() {
        return monitor.kind();
    }

    /** Whether {@link #shareRing} works: the context's fd monitor is io_uring. Any thread. */
    public boolean canShareRing() {
        return monitor instanceof IoUringFdMonitor ring && ring.canShare();
    }

    /**
     * Whether {@link #setSleeper} works: the context's fd monitor shows all it has to report on one fd (io_uring's
     * ring fd). Any thread.
     */
    public boolean canSleepElsewhere() {
        return monitor instanceof IoUringFdMonitor;
    }

    /**
     * Lets the loop sleep in {@code source} instead of its fd monitor while the source has completions to wait for
     * ({@link LoopSleeper}); {@code null} ends that. While set, every iteration also {@linkplain LoopSleeper#poll()
     * polls} the source, so the source's completions need no fd of their own. Before a blocking wait the loop hands
     * the monitor's queued requests to the kernel and asks the monitor whether it has something to report; only if
     * not does it sleep in the source, which watches the monitor's readiness fd
     * ({@link IoUringFdMonitor#readinessFd()}). After the sleep it asks again, and takes the monitor's report
     * without blocking. {@link #close()} drops the source after the context-local cleanups, which close engines.
     * Home thread.
     *
     * @throws IllegalStateException when the monitor is not io_uring ({@link #canSleepElsewhere()}), or another
     *                               source is set
     */
    public void setSleeper(LoopSleeper source) {
        checkHomeThread();
        if (source != null) {
            checkOpen();
            if (!(monitor instanceof IoUringFdMonitor)) {
                throw new IllegalStateException("AioContext '" + name + "' cannot sleep outside its fd monitor "
                        + monitor.name() + " (only io_uring shows its readiness on one fd)");
            }
            if (sleeper != null && sleeper != source) {
                throw new IllegalStateException("AioContext '" + name + "' already sleeps in " + sleeper);
            }
        }
        sleeper = source;
        sleeperHandler = null;
    }

    /**
     * Lends the ring of the context's io_uring monitor to {@code client}, an I/O engine of this context whose
     * requests then go to the kernel with the loop's own wait ({@link SharedRing}, QEMU's {@code aio_add_sqe});
     * one client per context. The client registers a read handler on {@link SharedRing#fd()} to deliver its
     * completions. Home thread of this context (not checked through the thread: engines are opened from
     * coroutines, see {@link io.blockloop.coroutine.Coroutine#context()}).
     *
     * @throws IllegalStateException when the monitor is not io_uring ({@link #canShareRing()}) or already shared
     */
    public SharedRing shareRing(RingClient client) {
        checkOpen();
        if (!(monitor instanceof IoUringFdMonitor ring)) {
            throw new IllegalStateException("AioContext '" + name + "' has no io_uring ring to share (fd monitor: "
                    + monitor.name() + ")");
        }
        return ring.share(client);
    }

    /** The context's clock: monotonic nanoseconds ({@link System#nanoTime()}), the clock of its timers. Any thread. */
    public long nowNs() {
        return System.nanoTime();
    }

    public boolean isClosed() {
        return closed;
    }

    /**
     * Whether the context refuses new work: it is closed, or its IOThread has ended its loop and runs its last BHs
     * (acquire load of the sealed BH queue). Any thread; a call racing the seal may still pass.
     */
    public boolean isClosing() {
        return bottomHalves.isSealed();
    }

    /**
     * Whether a timer armed now would never run: the context is closing, or its last pass has begun (which runs
     * BHs and scheduled coroutines, not timers). Any thread (volatile loads).
     */
    boolean refusesTimers() {
        return lastPass || isClosing();
    }

    // ------------------------------------------------------------------ notify

    /**
     * Makes the loop run another iteration soon (QEMU's {@code aio_notify}): wakes it if it is blocked, costs
     * no system call if it is not. Any thread.
     */
    public void notifyLoop() {
        notifier.notifyLoop();
    }

    // ------------------------------------------------------------------ bottom halves

    /** A new, unscheduled BH; {@link BottomHalf#delete()} it before closing the context. Any thread. */
    public BottomHalf newBottomHalf(String name, Runnable callback) {
        checkOpen();
        BottomHalf bh = new BottomHalf(this, Objects.requireNonNull(name, "name"),
                Objects.requireNonNull(callback, "callback"), 0);
        liveBottomHalves.add(bh);
        return bh;
    }

    /** Runs {@code callback} once at the next iteration, then forgets it ({@code aio_bh_schedule_oneshot}). Any thread. */
    public void scheduleOneShot(String name, Runnable callback) {
        checkOpen();
        BottomHalf bh = new BottomHalf(this, Objects.requireNonNull(name, "name"),
                Objects.requireNonNull(callback, "callback"), BottomHalf.ONESHOT);
        bh.enqueue(BottomHalf.SCHEDULED);
    }

    /**
     * Runs one pass over the pending BHs, and nothing else: no fd, no timer, no wait (QEMU's {@code aio_bh_poll},
     * which the graph lock's write unlock uses to run BHs scheduled inside the write section). Counts as a nested
     * iteration when called from a callback. Returns whether a non-idle BH ran. Home thread only.
     */
    public boolean runBottomHalves() {
        checkHomeThread();
        checkOpen();
        depth++;
        try {
            return bottomHalves.runPass(depth, this);
        } finally {
            depth--;
        }
    }

    BottomHalfQueue bottomHalves() {
        return bottomHalves;
    }

    /**
     * For a loop that has ended for good, before {@link #close()}: refuses BHs and scheduled coroutines from now on
     * (their scheduler gets {@link IllegalStateException}) and runs, once, those accepted until now: first the
     * coroutines (the BHs they schedule are still accepted), then the BHs. A BH or a coroutine scheduled while the
     * loop stops therefore either runs or is refused; none is accepted and then dropped. Coroutines scheduled here
     * from then on, and BHs those last BHs schedule, are refused. {@link IOThread} calls this after its last
     * iteration. Home thread.
     */
    void runLastBottomHalves() {
        checkHomeThread();
        checkOpen();
        // Timers are refused from here on, before the coroutines are entered: a coroutine entered below that went to
        // sleep armed a timer the last pass never runs, and was lost without a word (session 26).
        lastPass = true;
        // The coroutine list first (see ScheduledCoroutines): a push it refuses was not linked, one it took is
        // entered now, and what those coroutines schedule still meets an open BH queue and runs in the last pass.
        // Reported like a BH's failure: a misuse of one coroutine does not end the thread.
        runCallback("bottom half", "co-schedule", scheduledCoroutines::sealAndEnter);
        bottomHalves.seal();
        runBottomHalves();
    }

    /**
     * The coroutines scheduled to be entered in this context ({@code aio_co_schedule}'s list and BH), owned by
     * the coroutine package. Any thread.
     */
    public ScheduledCoroutines scheduledCoroutines() {
        return scheduledCoroutines;
    }

    void bottomHalfDeleted(BottomHalf bh) {
        liveBottomHalves.remove(bh);
    }

    void bottomHalfFreed(BottomHalf bh) {
        liveBottomHalves.remove(bh);
    }

    // ------------------------------------------------------------------ timers

    /** A new, unarmed timer on {@link #nowNs()}'s clock. Any thread. */
    public Timer newTimer(String name, Runnable callback) {
        checkOpen();
        return new Timer(this, Objects.requireNonNull(name, "name"), Objects.requireNonNull(callback, "callback"));
    }

    TimerList timers() {
        return timers;
    }

    // ------------------------------------------------------------------ fd handlers

    /**
     * Sets the handler of {@code fd} (QEMU's {@code aio_set_fd_handler}); all of {@code onRead}, {@code onWrite}
     * and {@code poll} null removes it. Replacing a handler is atomic for the loop: it sees the old or the new one.
     * The fd stays owned by the caller; remove the handler before closing it. Any thread, also from callbacks.
     */
    public void setFdHandler(int fd, Runnable onRead, Runnable onWrite, BooleanSupplier poll, Runnable onPollReady) {
        setFdHandler(fd, new FdCallbacks(onRead, onWrite, poll, onPollReady, null, null));
    }

    /** Sets (or, with {@link FdCallbacks#none()}, removes) the handler of {@code fd}. Any thread. */
    public void setFdHandler(int fd, FdCallbacks callbacks) {
        if (fd == notifier.eventFd().fd()) {
            throw new IllegalArgumentException("fd " + fd + " is the context's own notifier");
        }
        if (!Objects.requireNonNull(callbacks, "callbacks").removesHandler() && !isOpen(fd)) {
            // poll reports POLLNVAL for it on every wait (an idle loop spun at 100 % CPU); io_uring dropped it.
            throw new IllegalArgumentException("fd " + fd + " is not open (AioContext '" + name + "')");
        }
        handlers.set(fd, Objects.requireNonNull(callbacks, "callbacks"), false);
        notifyLoop(); // a blocked wait must pick up the new fd set
    }

    /** Removes the handler of {@code fd}, if any. Any thread, also from callbacks. */
    public void removeFdHandler(int fd) {
        setFdHandler(fd, FdCallbacks.none());
    }

    /**
     * Sets the busy-polling begin/end callbacks of the existing handler of {@code fd}
     * ({@code aio_set_event_notifier_poll}). Any thread.
     *
     * @throws IllegalArgumentException when no handler is registered for {@code fd}
     */
    public void setFdPollBeginEnd(int fd, Runnable onPollBegin, Runnable onPollEnd) {
        if (!handlers.setPollBeginEnd(fd, onPollBegin, onPollEnd)) {
            throw new IllegalArgumentException("no handler for fd " + fd);
        }
    }

    /**
     * Watches an event notifier ({@code aio_set_event_notifier}): {@code onRead} runs when it is signalled (it
     * should {@link EventFd#drain()} it). All callbacks null removes it. Any thread.
     */
    public void setEventNotifier(EventFd notifier, Runnable onRead, BooleanSupplier poll, Runnable onPollReady) {
        setFdHandler(notifier.fd(), onRead, null, poll, onPollReady);
    }

    /** Stops watching {@code notifier}. Any thread. */
    public void removeEventNotifier(EventFd notifier) {
        removeFdHandler(notifier.fd());
    }

    /** {@link #setFdPollBeginEnd} for an event notifier ({@code aio_set_event_notifier_poll}). Any thread. */
    public void setEventNotifierPoll(EventFd notifier, Runnable onPollBegin, Runnable onPollEnd) {
        setFdPollBeginEnd(notifier.fd(), onPollBegin, onPollEnd);
    }

    /** Whether {@code fd} has a handler. Any thread. */
    public boolean hasFdHandler(int fd) {
        return handlers.contains(fd);
    }

    // ------------------------------------------------------------------ busy polling

    /**
     * Sets the adaptive busy-polling parameters ({@code aio_context_set_poll_params}); every handler's polling
     * time restarts at 0. Takes effect at the next iteration. Any thread.
     */
    public void setPollParams(long maxNs, long grow, long shrink) {
        setPollParams(new PollParams(maxNs, grow, shrink));
    }

    /** {@link #setPollParams(long, long, long)} from a record. Any thread. */
    public void setPollParams(PollParams params) {
        checkOpen();
        poller.setParams(Objects.requireNonNull(params, "params"));
        notifyLoop();
    }

    /** The current busy-polling parameters. Any thread. */
    public PollParams pollParams() {
        return poller.paramsAcquire();
    }

    /**
     * What busy polling has done since the context was created: windows spun, how many found work, the time
     * spent spinning, and the probes of closed windows. Home thread (plain counters, no ordering); from another
     * thread it throws {@link IllegalStateException}.
     */
    public PollingStats pollingStats() {
        checkHomeThread();
        return poller.stats();
    }

    // ------------------------------------------------------------------ failures

    /** Also hands every callback failure to {@code listener} (null: only log). Any thread. */
    public void setCallbackFailureListener(Consumer<CallbackFailure> listener) {
        this.failureListener = listener;
    }

    /** Runs one callback, reporting and swallowing what it throws (except VM errors). Home thread. */
    void runCallback(String kind, String callbackName, Runnable callback) {
        if (callback == null) {
            return;
        }
        try {
            callback.run();
        } catch (VirtualMachineError e) {
            throw e;
        } catch (Throwable t) {
            reportFailure(kind, callbackName, t);
        }
    }

    /** Runs a handler's busy-poll check; an exception counts as "no work" and is reported. Home thread. */
    boolean runPollCheck(FdHandler h) {
        try {
            return h.callbacks.poll().getAsBoolean();
        } catch (VirtualMachineError e) {
            throw e;
        } catch (Throwable t) {
            reportFailure("fd poll", h.name, t);
            return false;
        }
    }

    private void reportFailure(String kind, String callbackName, Throwable t) {
        LOG.log(System.Logger.Level.ERROR, "AioContext '" + name + "': " + kind + " '" + callbackName
                + "' threw; the loop goes on", t);
        Consumer<CallbackFailure> listener = failureListener;
        if (listener != null) {
            try {
                listener.accept(new CallbackFailure(name, kind, callbackName, t));
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.ERROR, "callback failure listener threw", e);
            }
        }
    }

    // ------------------------------------------------------------------ the loop

    /** For the busy poller: must it stop spinning and wait? Home thread. */
    boolean needWait() {
        return monitor.needWait(handlers.someHandlerCannotPoll());
    }

    boolean monitorSeesReadinessWithoutWaiting() {
        return monitor.seesReadinessWithoutWaiting();
    }

    /** For the busy poller: hands what the monitor queued for the kernel to it before a spin. Home thread. */
    boolean submitBeforePolling() {
        return monitor.submitBeforePolling();
    }

    /**
     * Runs one iteration (QEMU's {@code aio_poll}); with {@code blocking}, waits until there is something to do.
     * Returns whether progress was made (see the class comment). Home thread only.
     */
    public boolean poll(boolean blocking) {
        checkHomeThread();
        checkOpen();
        boolean progress;
        // Release stores (plain on x86): written by the home thread only, read by close() from another thread.
        DEPTH.setRelease(this, depth + 1);
        try {
            progress = pollOnce(blocking);
            // Timers run after the handler walk is over, as in QEMU (after list_lock is dropped), but inside the
            // depth count: close() refuses while a timer callback runs as it refuses while a BH runs. Run after the
            // count was dropped, a timer could close its own context, or another thread close it under the
            // callback, which then went on with the context's engines and rings freed.
            progress |= runTimers();
        } finally {
            DEPTH.setRelease(this, depth - 1);
        }
        return progress;
    }

    private boolean pollOnce(boolean blocking) {
        PollPass pass = pass(depth);
        poller.applyParams();
        boolean polling = poller.enabled();
        long start = polling ? nowNs() : 0;
        pass.begin(blocking ? computeTimeoutNs() : 0);

        boolean polled = polling && poller.tryPollMode(pass, start);
        assert !(pass.timeoutNs != 0 && pass.progress) : "busy polling found work but kept a timeout";

        boolean announced = pass.timeoutNs != 0;
        if (announced && notifier.announceBlockingWaitVolatile()) {
            pass.timeoutNs = 0; // already notified: do not block
        }
        // A non-blocking iteration skips the monitor only when busy polling just looked at every handler, or when
        // the monitor shows readiness in memory (io_uring's CQ ring: needWait() saw it). QEMU also skips it when
        // merely every handler *could* poll, which leaves fds unchecked by aio_poll(ctx, false) and starves them
        // behind a self-rescheduling BH; we take one cheap non-blocking wait instead.
        boolean mustLook = !polled && !monitor.seesReadinessWithoutWaiting();
        boolean slept = false;
        if (pass.timeoutNs != 0 || mustLook || needWait()) {
            // Leave busy-polling mode before blocking, so that notifications (re-enabled by the poll-end
            // callbacks) can wake us; a final check may still find work, then do not block.
            boolean pollEndRuns = pass.timeoutNs != 0 && poller.isStarted();
            if (pass.timeoutNs != 0 && poller.setStarted(false, pass)) {
                pass.timeoutNs = 0;
                pass.progress = true;
            }
            if (pollEndRuns && pass.timeoutNs != 0) {
                // A poll-end callback may have scheduled an idle BH, which from the home thread notifies nobody: its
                // 10 ms bound must hold for this wait, whose timeout was computed before (session 26: it waited for
                // the next timer, a second in the audit's probe). Only after poll-end callbacks ran: every other
                // blocking wait would walk the BH queue a second time for nothing.
                pass.timeoutNs = AdaptivePoller.soonest(pass.timeoutNs, bottomHalves.timeoutNs());
            }
            if (pass.timeoutNs != 0) {
                // Release (a plain store on x86, beside a system call): pairs with the acquire in blockingWaitCount().
                BLOCKING_WAITS.setRelease(this, blockingWaits + 1);
            }
            slept = pass.timeoutNs != 0 && sleepInSleeper(pass);
            if (!slept) {
                monitor.wait(pass.timeoutNs, pass, depth > 1);
            }
        }
        if (sleeper != null && !slept) {
            pollSleeper(pass);
        }
        if (announced) {
            notifier.retireBlockingWaitRelease();
        }
        notifier.acceptVolatile();

        long waitEndNs = polling ? nowNs() : start;
        long blockNs = waitEndNs - start;
        boolean progress = pass.progress;
        progress |= bottomHalves.runPass(depth, this);
        progress |= dispatchReady(pass, blockNs);
        if (sleeper != null) {
            FdHandler h = sleeperHandler();
            sleeper.setBusyPolled(h != null && polling && h.inPollList && h.pollNs > 0);
        }
        if (polled) {
            poller.spinOutcome(pass, waitEndNs, progress);
        }
        if (depth == 1 && handlers.takeDeletedSinceSweep()) {
            poller.sweepDeleted();
        }
        return progress;
    }

    /**
     * The blocking wait in the {@link #setSleeper sleeper}, when there is one with completions to wait for and the
     * monitor has nothing to report even after its queued requests went to the kernel. Returns false, having done
     * nothing but that submission, when the monitor must wait instead.
     */
    private boolean sleepInSleeper(PollPass pass) {
        LoopSleeper source = sleeper;
        if (source == null || !source.canSleep()) {
            return false;
        }
        monitor.submitBeforePolling();
        if (monitor.needWait(false)) {
            return false; // something to report or changes to apply: the monitor's wait, which will not block long
        }
        IoUringFdMonitor ring = (IoUringFdMonitor) monitor;
        try {
            if (source.sleep(ring.readinessFd(), pass.timeoutNs) > 0) {
                sleeperDelivered(pass);
            }
        } catch (VirtualMachineError e) {
            throw e;
        } catch (Throwable t) { // a completion handler's, which the source rethrows after delivering the rest
            reportFailure("sleeper", source.toString(), t);
            pass.progress = true;
        }
        if (monitor.needWait(false)) {
            monitor.wait(0, pass, depth > 1);
        }
        return true;
    }

    /** Delivers what the {@link #setSleeper sleeper} has completed, reporting what its handlers throw. */
    private void pollSleeper(PollPass pass) {
        try {
            if (sleeper.poll() > 0) {
                sleeperDelivered(pass);
            }
        } catch (VirtualMachineError e) {
            throw e;
        } catch (Throwable t) {
            reportFailure("sleeper poll", sleeper.toString(), t);
            pass.progress = true;
        }
    }

    /**
     * The sleeper delivered completions: progress, and its fd handler ({@link LoopSleeper#completionFd()}) is
     * poll-ready in this pass, as after a successful busy poll of it. {@link #dispatchReady} then puts the handler in
     * the busy-polling set and adapts its polling time to the wait. Without this the handler's fd, which the kernel's
     * completions no longer signal, would never fire, and the loop would never busy-poll the engine.
     */
    private void sleeperDelivered(PollPass pass) {
        pass.progress = true;
        FdHandler h = sleeperHandler();
        if (h != null) {
            pass.addPollReady(h);
        }
    }

    private FdHandler sleeperHandler() {
        FdHandler h = sleeperHandler;
        if ((h == null || h.isDeletedAcquire()) && sleeper != null) {
            h = handlers.get(sleeper.completionFd());
            sleeperHandler = h;
        }
        return h == null || h.isDeletedAcquire() ? null : h;
    }

    private PollPass pass(int d) {
        if (d >= passes.length) {
            passes = Arrays.copyOf(passes, Math.max(passes.length * 2, d + 1));
        }
        PollPass p = passes[d];
        if (p == null) {
            p = new PollPass(d);
            passes[d] = p;
        }
        return p;
    }

    /** QEMU's {@code aio_compute_timeout}: 0, the nearest timer or idle-BH deadline, or -1. Home thread. */
    private long computeTimeoutNs() {
        long bh = bottomHalves.timeoutNs();
        if (bh == 0) {
            return 0;
        }
        long timer = timers.deadlineNs(nowNs());
        if (timer == 0) {
            return 0;
        }
        return AdaptivePoller.soonest(bh, timer);
    }

    private boolean dispatchReady(PollPass pass, long blockNs) {
        boolean progress = false;
        // A nested poll inside a callback may move entries of this pass to its own (take() then skips them).
        for (int i = 0; i < pass.count(); i++) {
            FdHandler h = pass.take(i);
            if (h == null) {
                continue;
            }
            int revents = h.revents & h.node.events();
            boolean pollReady = h.pollReady;
            h.revents = 0;
            h.pollReady = false;
            progress |= dispatchHandler(h, revents, pollReady);
            if (poller.enabled() && h.inPollList) {
                poller.adjust(h, blockNs, pass.probing);
            }
        }
        pass.clear();
        return progress;
    }

    /** QEMU's {@code aio_dispatch_handler}. */
    private boolean dispatchHandler(FdHandler h, int revents, boolean pollReady) {
        if (h.isDeletedAcquire()) {
            return false;
        }
        FdCallbacks cb = h.callbacks;
        if (!h.inPollList && h.canPoll() && !h.pollReadyRunning) {
            poller.add(h);
        }
        if (pollReady && revents == 0) {
            // Out of the polled set while its ready callback runs: a nested loop must not poll it again, nor put it
            // back when it dispatches the fd (pollReadyRunning).
            boolean wasPolled = h.inPollList;
            if (wasPolled) {
                poller.removeTemporarily(h);
            }
            h.pollReadyRunning = true;
            try {
                runCallback("fd poll ready", h.name, cb.onPollReady());
            } finally {
                h.pollReadyRunning = false;
            }
            if (wasPolled && !h.inPollList && !h.isDeletedAcquire()) {
                poller.add(h);
            }
            return !h.contextNotifier;
        }
        boolean progress = false;
        if ((revents & FdNode.READ_EVENTS) != 0 && cb.onRead() != null && !h.isDeletedAcquire()) {
            runCallback("fd read", h.name, cb.onRead());
            progress = !h.contextNotifier;
        }
        if ((revents & FdNode.WRITE_EVENTS) != 0 && cb.onWrite() != null && !h.isDeletedAcquire()) {
            runCallback("fd write", h.name, cb.onWrite());
            progress = !h.contextNotifier;
        }
        return progress;
    }

    private boolean runTimers() {
        boolean progress = false;
        long now = nowNs();
        Timer t;
        while ((t = timers.pollExpired(now)) != null) {
            runCallback("timer", t.name(), t.callback());
            progress = true;
        }
        return progress;
    }

    // ------------------------------------------------------------------ context-local values

    private static final VarHandle LOCALS;
    private static final VarHandle DEPTH;
    private static final VarHandle BLOCKING_WAITS;

    static {
        try {
            LOCALS = MethodHandles.lookup().findVarHandle(AioContext.class, "locals", Object[].class);
            DEPTH = MethodHandles.lookup().findVarHandle(AioContext.class, "depth", int.class);
            BLOCKING_WAITS = MethodHandles.lookup().findVarHandle(AioContext.class, "blockingWaits", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** The value in slot {@code index}, or null. Any thread: acquire load, pairs with the release in createLocal. */
    Object localSlot(int index) {
        Object[] slots = (Object[]) LOCALS.getAcquire(this);
        return index < slots.length ? slots[index] : null;
    }

    /** Creates {@code key}'s value once (slow path of {@link ContextLocal#get}). Any thread. */
    <T> T createLocal(ContextLocal<T> key) {
        synchronized (localsLock) {
            Object[] slots = locals;
            if (key.index() < slots.length && slots[key.index()] != null) {
                @SuppressWarnings("unchecked")
                T existing = (T) slots[key.index()];
                return existing;
            }
            checkOpen();
            if (localsClosed) {
                // Created now, it would miss the cleanup that is running or has run, and leak what it holds.
                throw new IllegalStateException("AioContext '" + name + "' is closing: " + key + " cannot be created");
            }
            T value = key.create(this);
            Object[] grown = Arrays.copyOf(slots, Math.max(slots.length, key.index() + 1));
            grown[key.index()] = value;
            localKeys.add(key);
            LOCALS.setRelease(this, grown); // pairs with the acquire in localSlot
            return value;
        }
    }

    /** Hands every context-local value to its cleanup, newest first; failures are reported, not thrown. */
    private void cleanUpLocals() {
        List<ContextLocal<?>> keys;
        Object[] slots;
        synchronized (localsLock) {
            localsClosed = true;
            keys = new ArrayList<>(localKeys);
            slots = locals;
            localKeys.clear();
            LOCALS.setRelease(this, new Object[0]); // pairs with localSlot()'s getAcquire
        }
        for (int i = keys.size() - 1; i >= 0; i--) {
            ContextLocal<?> key = keys.get(i);
            try {
                key.cleanUp(slots[key.index()]);
            } catch (RuntimeException | Error e) {
                LOG.log(System.Logger.Level.ERROR, "cleanup of " + key + " in AioContext '" + name + "' failed", e);
            }
        }
    }

    // ------------------------------------------------------------------ lifecycle

    /**
     * Closes the context: frees its monitor and notifier and forgets its handlers. Home thread (or any thread
     * once no thread polls it any more); idempotent.
     *
     * @throws IllegalStateException naming each BH that was never deleted ("BH 'x' leaked") and any coroutine
     *                               still scheduled here ("scheduled coroutines left: ..."), after everything
     *                               was released, as QEMU aborts in {@code aio_ctx_finalize}
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        if (depth != 0 && inHomeThread()) {
            throw new IllegalStateException("AioContext '" + name + "' closed from inside its own poll");
        }
        if (!inHomeThread() && (int) DEPTH.getVolatile(this) != 0) {
            // The home thread would go on into a closed monitor: with io_uring, a SIGSEGV on its unmapped ring.
            // A guard for the usual mistake; a close racing the very start of a poll is not caught.
            throw new IllegalStateException("AioContext '" + name + "' closed from thread '"
                    + Thread.currentThread().getName() + "' while its home thread polls it; stop the loop first "
                    + "(IOThread.close does)");
        }
        if (MainLoop.context() == this) {
            MainLoop.checkMayClose(this); // e.g. block nodes still open, which only the main loop can close
        }
        // Context-local values first (engines remove their fd handlers here, while the context still works).
        cleanUpLocals();
        sleeper = null; // its engine was closed by a cleanup above; no poll runs any more (the checks above)
        sleeperHandler = null;
        closed = true;
        // First the coroutine list: it seals itself and deletes its BH, which the BH drain below then frees (QEMU
        // asserts no scheduled coroutines, then deletes co_schedule_bh, then checks the BH list).
        String coroutinesLeft = scheduledCoroutines.drainForClose();
        List<String> leaked = new ArrayList<>();
        for (BottomHalf bh : bottomHalves.drainForClose(this)) {
            leaked.add(bh.name());
        }
        for (BottomHalf bh : liveBottomHalves) {
            if (!leaked.contains(bh.name())) {
                leaked.add(bh.name());
            }
        }
        liveBottomHalves.clear();
        try {
            handlers.removeAll();
            monitor.close();
        } finally {
            notifier.close();
            if (CURRENT.get() == this) {
                CURRENT.remove();
            }
            MainLoop.forget(this);
        }
        if (!leaked.isEmpty() || coroutinesLeft != null) {
            StringBuilder message = new StringBuilder("AioContext '").append(name).append("' closed with ");
            for (int i = 0; i < leaked.size(); i++) {
                message.append(i == 0 ? "" : ", ").append("BH '").append(leaked.get(i)).append("' leaked");
            }
            if (coroutinesLeft != null) {
                message.append(leaked.isEmpty() ? "" : "; ").append(coroutinesLeft);
            }
            throw new IllegalStateException(message.toString());
        }
    }

    /** Whether {@code fd} is an open descriptor of this process ({@code fcntl(F_GETFL)} does not say EBADF). */
    private static boolean isOpen(int fd) {
        return Fcntl.getFlagsOrErrno(fd) != -Errno.EBADF;
    }

    private void checkHomeThread() {
        if (Thread.currentThread() != homeThread) {
            throw new IllegalStateException("AioContext '" + name + "' belongs to thread '" + homeThread.getName()
                    + "', not '" + Thread.currentThread().getName() + "'");
        }
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("AioContext '" + name + "' is closed");
        }
    }

    // ------------------------------------------------------------------ diagnostics (tests)

    /** Whether a blocking wait may be in progress right now (volatile). Any thread; for tests. */
    boolean loopMayBlock() {
        return notifier.loopMayBlockVolatile();
    }

    /** How many waits could block (timeout not 0) so far. Any thread (acquire load); for tests. */
    long blockingWaitCount() {
        return (long) BLOCKING_WAITS.getAcquire(this); // pairs with poll()'s setRelease of the count
    }

    /** Handlers in the busy-polling set. Home thread; for tests. */
    int polledHandlerCount() {
        return poller.polledCount();
    }

    /** The contention back-off of busy polling. Home thread; for tests. */
    SpinBackoff spinBackoff() {
        return poller.backoff();
    }

    /** The probes of closed busy-polling windows. Home thread; for tests. */
    WindowProbe windowProbe() {
        return poller.probe();
    }

    FdMonitor monitor() {
        return monitor;
    }

    LoopNotifier notifier() {
        return notifier;
    }

    @Override
    public String toString() {
        return "AioContext[" + name + ", " + monitor.name() + "]";
    }
}
