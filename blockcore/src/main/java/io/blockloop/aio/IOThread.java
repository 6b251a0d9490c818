package io.blockloop.aio;

import io.blockloop.fdmon.FdMonitor;
import io.blockloop.fdmon.FdMonitorKind;
import io.blockloop.ffm.errno.NativeCallException;
import io.blockloop.ffm.libc.CpuAffinity;

import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;

/**
 * A named platform thread that owns one {@link AioContext} and runs {@code poll(true)} until stopped (QEMU's
 * {@code IOThread}). The context is created on the thread itself (so its monitor, e.g. an io_uring ring, is
 * set up by its only user), becomes the thread's {@link AioContext#current()}, and is closed on the thread when
 * the loop ends. Busy polling defaults to {@link PollParams#ioThreadDefault()}: QEMU's 32768 ns with two or more
 * CPUs, off with one.
 *
 * <p>Threads: {@link #start()}, {@link #pinToCpu}, {@link #stop()}, {@link #join}, {@link #close()} any thread other
 * than the IOThread itself ({@link #stop()} may also be called on it). {@link #context()} any thread after
 * {@link #start()} returned; {@link #pollingStats()} any thread while it runs.
 *
 * <p>Memory ordering: {@link #start()} waits on a latch counted down by the new thread after it created its
 * context, so the context reference and everything the thread did before are visible to the starter. The stop
 * request travels as a one-shot BH (the BH queue's CAS/getAndSet); the {@code running} flag is then written and
 * read by the IOThread only. {@link #join} relies on {@link Thread#join}'s happens-before for the failure field.
 * {@link #pinToCpu}'s and {@link #pollingStats()}'s requests travel as one-shot BHs too, and their outcome comes back
 * through a {@code CompletableFuture} (completion happens-before the caller's {@code get}).
 */
public final class IOThread implements AutoCloseable {
    private final String name;
    private final Supplier<FdMonitor> monitorFactory;
    private final PollParams pollParams;
    private final Thread thread;
    private final CountDownLatch ready = new CountDownLatch(1);
    /** Once-guards (CAS): one start, one stop BH. They publish nothing. */
    private final AtomicBoolean started = new AtomicBoolean();
    /** Closed before it was started: {@link #start()} then refuses (set right after close's CAS on started). */
    private volatile boolean closedUnstarted;
    private final AtomicBoolean stopRequested = new AtomicBoolean();
    /** Written by the new thread before {@code ready.countDown()}; {@link #context()}'s volatile load pairs with it. */
    private volatile AioContext context;
    /** Written on the IOThread only (run(), the stop BH); volatile for {@link #isRunning()} on other threads. */
    private volatile boolean running;
    /** Written on the IOThread; read after {@code ready.await()} or {@link Thread#join}, which order it. */
    private volatile Throwable failure;

    /**
     * An IOThread with the AUTO monitor and the default busy polling ({@link PollParams#ioThreadDefault()}). Not
     * started.
     */
    public IOThread(String name) {
        this(name, FdMonitorKind.AUTO, PollParams.ioThreadDefault());
    }

    /** An IOThread with the default busy polling ({@link PollParams#ioThreadDefault()}). Not started. */
    public IOThread(String name, FdMonitorKind monitorKind) {
        this(name, monitorKind, PollParams.ioThreadDefault());
    }

    public IOThread(String name, FdMonitorKind monitorKind, PollParams pollParams) {
        this(name, openerOf(monitorKind), pollParams);
    }

    /**
     * An IOThread whose context uses the monitor {@code monitorFactory} makes; the factory runs on the new thread.
     */
    public IOThread(String name, Supplier<FdMonitor> monitorFactory, PollParams pollParams) {
        this.name = Objects.requireNonNull(name, "name");
        this.monitorFactory = Objects.requireNonNull(monitorFactory, "monitorFactory");
        this.pollParams = Objects.requireNonNull(pollParams, "pollParams");
        this.thread = Thread.ofPlatform().name("IO " + name).unstarted(this::run);
    }

    private static Supplier<FdMonitor> openerOf(FdMonitorKind kind) {
        Objects.requireNonNull(kind, "monitorKind");
        return () -> FdMonitor.open(kind);
    }

    /**
     * Starts the thread and returns once its context exists.
     *
     * @throws IllegalStateException when started twice or when the context cannot be created (e.g. the requested
     *                               monitor is unavailable); the thread has ended then
     */
    public IOThread start() {
        if (!started.compareAndSet(false, true)) {
            throw new IllegalStateException("IOThread '" + name + "' "
                    + (closedUnstarted ? "was closed before it started" : "already started"));
        }
        try {
            thread.start();
        } catch (RuntimeException | Error e) { // no thread (out of native threads): nobody would count ready down
            failure = e;
            ready.countDown();
            throw e;
        }
        if (awaitUninterruptibly(ready::await)) {
            Thread.currentThread().interrupt();
        }
        if (context == null) {
            throw new IllegalStateException("IOThread '" + name + "' failed to start", failure);
        }
        return this;
    }

    private void run() {
        AioContext ctx;
        try {
            ctx = AioContext.create(name, monitorFactory.get());
            ctx.setPollParams(pollParams);
            ctx.bindToCurrentThread();
            running = true;
            context = ctx;
        } catch (Throwable t) {
            failure = t;
            return;
        } finally {
            ready.countDown();
        }
        try {
            while (running) {
                ctx.poll(true);
            }
            // BHs scheduled after the last pass took its batch, before close: run them, refuse later ones.
            ctx.runLastBottomHalves();
        } catch (Throwable t) {
            // A VM error in a callback (callbacks' exceptions are reported and the loop goes on) ends the loop.
            // Say so now: before, the thread ended silently, isRunning() stayed true and close() hid the cause.
            failure = t;
            running = false;
            System.getLogger(IOThread.class.getName()).log(System.Logger.Level.ERROR,
                    "IOThread '" + name + "' stopped: its loop failed", t);
        } finally {
            try {
                ctx.close();
            } catch (Throwable t) {
                if (failure == null) {
                    failure = t;
                } else {
                    failure.addSuppressed(t);
                }
            }
        }
    }

    public String name() {
        return name;
    }

    /** The IOThread's context. Any thread, after {@link #start()}. */
    public AioContext context() {
        AioContext c = context;
        if (c == null) {
            throw new IllegalStateException("IOThread '" + name + "' is not started");
        }
        return c;
    }

    public Thread thread() {
        return thread;
    }

    /** Whether the loop is running (not yet stopped). Any thread. */
    public boolean isRunning() {
        return running;
    }

    /**
     * Pins the IOThread's OS thread to {@code cpu} (QEMU leaves this to management, as libvirt's
     * {@code iothreadpin}). An unpinned loop thread follows its wake-ups from CPU to CPU, which on a VM whose idle
     * vCPUs halt costs an IPI each time ({@code docs/qd1-reads-on-loop-devices.md}). Runs on the IOThread, from a
     * one-shot BH, and returns once it has. Any thread other than the IOThread and other IOThreads' loops, after
     * {@link #start()} and before {@link #stop()}; on the IOThread itself, call {@link CpuAffinity#pinCurrentThread}
     * directly.
     *
     * @throws NativeCallException   when the thread may not use {@code cpu} ({@code EINVAL}); nothing changed
     * @throws IllegalStateException when called on the IOThread or another loop's thread, or when it stopped before
     *                               it could pin itself
     */
    public void pinToCpu(int cpu) {
        if (Thread.currentThread() == thread) {
            throw new IllegalStateException("IOThread '" + name + "': call CpuAffinity.pinCurrentThread on the thread");
        }
        callOnThread("pin itself", () -> {
            CpuAffinity.pinCurrentThread(cpu);
            return null;
        });
    }

    /**
     * What the loop's busy polling has done since it started ({@link AioContext#pollingStats()}): windows spun, how
     * many found work, time spent spinning, probes of closed windows. Read on the IOThread, from a one-shot BH,
     * when called from another thread. Any thread but another IOThread's loop, after {@link #start()} and before
     * {@link #stop()}.
     *
     * @throws IllegalStateException when called on another loop's thread, or the thread stopped before it could
     *                               answer
     */
    public PollingStats pollingStats() {
        if (Thread.currentThread() == thread) {
            return context().pollingStats();
        }
        return callOnThread("report its polling", () -> context.pollingStats());
    }

    /**
     * Runs {@code call} on the IOThread from a one-shot BH and returns its result, waiting for it; a
     * {@link RuntimeException} it throws is rethrown here. The caller is not the IOThread. {@code what} names the
     * call in messages ("pin itself").
     */
    private <T> T callOnThread(String what, Supplier<T> call) {
        AioContext ctx = context();
        if (stopRequested.get()) {
            throw new IllegalStateException("IOThread '" + name + "' is stopping");
        }
        AioContext running = AioContext.current();
        if (running != null && !MainLoop.isMainThread()) {
            // Its loop would stop while it waits, and two IOThreads asking each other at once waited for good.
            throw new IllegalStateException("IOThread '" + name + "' asked to " + what + " from the loop thread of"
                    + " context '" + running.name() + "': waiting there would stop that loop; ask from the main"
                    + " loop or a plain thread");
        }
        CompletableFuture<T> result = new CompletableFuture<>();
        ctx.scheduleOneShot("iothread-call", () -> {
            try {
                result.complete(call.get());
            } catch (Throwable t) {
                result.completeExceptionally(t);
            }
        });
        boolean interrupted = false;
        try {
            while (true) {
                try {
                    return result.get(100, TimeUnit.MILLISECONDS);
                } catch (ExecutionException e) {
                    if (e.getCause() instanceof RuntimeException r) {
                        throw r;
                    }
                    throw new IllegalStateException("IOThread '" + name + "': could not " + what, e.getCause());
                } catch (TimeoutException e) {
                    if (!thread.isAlive() && !result.isDone()) {
                        throw new IllegalStateException("IOThread '" + name + "' ended before it could " + what);
                    }
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /**
     * Asks the loop to end after its current iteration (QEMU's {@code iothread_stop}, without the join);
     * idempotent. BHs scheduled before the context closes still run, in one last pass after the loop's last
     * iteration; from that pass on, scheduling a BH here throws {@link IllegalStateException} (QEMU aborts at
     * finalization on a BH left queued). Any thread.
     */
    public void stop() {
        AioContext ctx = context();
        if (stopRequested.compareAndSet(false, true)) {
            ctx.scheduleOneShot("iothread-stop", () -> running = false);
        }
    }

    /** Waits for the thread to end. Throws if the loop failed or its context closed with leaked BHs. */
    public void join() throws InterruptedException {
        checkNotSelf("join()");
        thread.join();
        rethrowFailure();
    }

    /** Waits up to {@code timeout}; returns false if the thread is still running. */
    public boolean join(Duration timeout) throws InterruptedException {
        checkNotSelf("join()");
        if (!thread.join(timeout)) {
            return false;
        }
        rethrowFailure();
        return true;
    }

    /** Waiting for this thread on itself would never return (a BH calling close() hung its IOThread). */
    private void checkNotSelf(String what) {
        if (Thread.currentThread() == thread) {
            throw new IllegalStateException("IOThread '" + name + "': " + what + " on its own thread would wait for "
                    + "itself; call stop() there");
        }
    }

    private void rethrowFailure() {
        Throwable t = failure;
        if (t != null) {
            throw new IllegalStateException("IOThread '" + name + "' failed: " + t.getMessage(), t);
        }
    }

    /**
     * {@link #stop()} then waits for the thread to end, without giving up when interrupted (the interrupt status
     * is restored afterwards). Throws like {@link #join()} if the loop failed. An IOThread closed before it started
     * can no longer start.
     */
    @Override
    public void close() {
        checkNotSelf("close()");
        if (started.compareAndSet(false, true)) {
            closedUnstarted = true; // never to start: a thread started now would have nobody to close it
            ready.countDown(); // nothing will: a second close() waits on it below
            return;
        }
        // Started: wait until its context exists (or failed to), so that a start() racing this close is stopped.
        // Before session 26 a close that came between start() and the context's creation skipped stop() and joined
        // a loop nobody would ever stop.
        boolean interrupted = awaitUninterruptibly(ready::await);
        if (context != null && thread.isAlive()) {
            try {
                stop();
            } catch (IllegalStateException endedMeanwhile) {
                // The loop failed and closed its context on its own: the join below reports why.
            }
        }
        interrupted |= awaitUninterruptibly(thread::join);
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        rethrowFailure();
    }

    /** A wait that an interrupt cannot end, as close() and start() must not give up half way. */
    @FunctionalInterface
    private interface InterruptibleWait {
        void await() throws InterruptedException;
    }

    /** Waits until {@code wait} returns, retrying after interrupts; returns whether there was one (to restore). */
    private static boolean awaitUninterruptibly(InterruptibleWait wait) {
        boolean interrupted = false;
        while (true) {
            try {
                wait.await();
                return interrupted;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
    }

    @Override
    public String toString() {
        return "IOThread[" + name + "]";
    }
}
