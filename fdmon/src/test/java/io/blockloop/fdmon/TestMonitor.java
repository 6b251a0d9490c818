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
}
