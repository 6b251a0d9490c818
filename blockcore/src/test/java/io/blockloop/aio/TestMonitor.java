package io.blockloop.aio;

import io.blockloop.fdmon.EpollFdMonitor;
import io.blockloop.fdmon.FdMonitor;
import io.blockloop.fdmon.IoUringFdMonitor;
import io.blockloop.fdmon.PollFdMonitor;

import java.util.function.Supplier;

/**
 * The three monitors every loop test runs on. {@code EPOLL} upgrades at its first wait (threshold 1), so the
 * scenarios run on epoll itself; {@link EpollUpgradeTest} covers the standard 64-fd switch.
 */
enum TestMonitor {
    POLL(PollFdMonitor::new),
    EPOLL(() -> EpollFdMonitor.open(1)),
    IO_URING(IoUringFdMonitor::open);

    final Supplier<FdMonitor> factory;

    TestMonitor(Supplier<FdMonitor> factory) {
        this.factory = factory;
    }

    AioContext newContext(String name) {
        return AioContext.create(name + "-" + name(), factory.get());
    }
}
