package io.blockloop.fdmon;

import java.util.function.Supplier;

/**
 * The monitors every contract test runs against. {@code EPOLL} upgrades at the first wait (threshold 1) so the
 * scenarios exercise epoll itself; the standard 64-fd threshold has its own tests in {@link EpollFdMonitorTest}.
 */
enum TestMonitor {
    POLL(PollFdMonitor::new),
    EPOLL(() -> EpollFdMonitor.open(1)),
    IO_URING(IoUringFdMonitor::open);

    private final Supplier<FdMonitor> factory;

    TestMonitor(Supplier<FdMonitor> factory) {
        this.factory = factory;
    }

    FdMonitor open() {
        return factory.get();
    }

    /**
     * Whether a wait of {@code monitor} is running on its home thread, from before it can block in the kernel until
     * it returns. Any thread.
     */
    static boolean waitInProgress(FdMonitor monitor) {
        return switch (monitor) {
            case PollFdMonitor poll -> poll.waitInProgress();
            case EpollFdMonitor epoll -> epoll.waitInProgress();
            case IoUringFdMonitor ioUring -> ioUring.waitInProgress();
        };
    }
}
