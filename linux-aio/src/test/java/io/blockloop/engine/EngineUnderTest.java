package io.blockloop.engine;

import io.blockloop.fdmon.IoUringFdMonitor;

import java.time.Duration;

/**
 * The engine configurations the parameterized tests run against. Rings and pools are deliberately small, smaller
 * than the tests' queue depths, so the engines' backlog (pending queue) paths run.
 */
enum EngineUnderTest {
    /** linux-aio reaping from the shared aio_ring; 64 in flight. */
    LINUX_AIO {
        @Override
        IoEngine open() {
            return LinuxAioEngine.open(64, 16);
        }
    },
    /** linux-aio reaping with io_getevents only. */
    LINUX_AIO_GETEVENTS {
        @Override
        IoEngine open() {
            return LinuxAioEngine.open(64, 16, false);
        }
    },
    /**
     * linux-aio whose kernel completions leave the completion fd alone ({@link LinuxAioEngine#openUnsignalled}), as a
     * loop that sleeps in the engine runs it; 64 in flight.
     */
    LINUX_AIO_UNSIGNALLED {
        @Override
        IoEngine open() {
            return LinuxAioEngine.openUnsignalled(64, 16);
        }
    },
    /** io_uring with a 32-entry SQ (64 CQEs, so at most 64 in flight). */
    IO_URING {
        @Override
        IoEngine open() {
            return IoUringEngine.open(32);
        }
    },
    /**
     * io_uring with a 32-entry SQ set up for its owner's waits ({@link IoUringEngine#openDeferred}); the opening
     * thread owns it.
     */
    IO_URING_DEFERRED {
        @Override
        IoEngine open() {
            return IoUringEngine.openDeferred(32, IoUringEngine.DEFAULT_MAX_SPIN);
        }
    },
    /**
     * io_uring on an event loop's ring: the calling thread's {@link #loopMonitor()} (128 SQEs, 256 CQEs, so at
     * most 128 in flight). Closing the engine ends the loan, so the next engine of the thread borrows it again.
     */
    IO_URING_SHARED {
        @Override
        IoEngine open() {
            return IoUringEngine.openShared(loopMonitor()::share);
        }
    },
    /** The thread pool with QEMU's limits (up to 64 workers). */
    THREADS {
        @Override
        IoEngine open() {
            return ThreadPoolEngine.open(0, 64, Duration.ofSeconds(10));
        }
    };

    abstract IoEngine open();

    /** Each test thread's event-loop monitor for {@link #IO_URING_SHARED}. */
    private static final ThreadLocal<IoUringFdMonitor> MONITORS = new ThreadLocal<>();

    /**
     * The calling thread's io_uring fd monitor, which {@link #IO_URING_SHARED} engines borrow: opened on first use
     * and never closed (the process exit frees it), so it is not a per-engine resource. The calling thread is its
     * home thread.
     */
    static IoUringFdMonitor loopMonitor() {
        IoUringFdMonitor monitor = MONITORS.get();
        if (monitor == null) {
            monitor = IoUringFdMonitor.open();
            MONITORS.set(monitor);
        }
        return monitor;
    }

    /**
     * Makes {@code monitor}, opened beforehand by another thread (before a leak count), the calling thread's
     * {@link #loopMonitor()}; the caller orders the hand-off (e.g. {@link Thread#start()}).
     */
    static void adoptLoopMonitor(IoUringFdMonitor monitor) {
        if (MONITORS.get() != null) {
            throw new IllegalStateException("this thread already has a loop monitor");
        }
        MONITORS.set(monitor);
    }
}
