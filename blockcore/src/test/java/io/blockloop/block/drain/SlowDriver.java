package io.blockloop.block.drain;

import io.blockloop.block.BlockLimits;
import io.blockloop.block.IoVector;
import io.blockloop.block.testing.StubDriver;
import io.blockloop.coroutine.Coroutine;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * A test driver (QEMU test-bdrv-drain's {@code bdrv_test}): reads fill the buffer with the node's byte after
 * sleeping {@code delayNs} on the node's clock, so requests stay in flight long enough to be drained; it counts
 * its drain callbacks and the requests it served.
 */
final class SlowDriver extends StubDriver {
    final AtomicInteger drainBegins = new AtomicInteger();
    final AtomicInteger drainEnds = new AtomicInteger();
    final AtomicInteger served = new AtomicInteger();
    volatile long delayNs;
    private final byte fill;

    SlowDriver(long delayNs, byte fill) {
        super("slow-test", 1 << 20, BlockLimits.NONE);
        this.delayNs = delayNs;
        this.fill = fill;
    }

    @Override
    public int coPreadv(long offset, long bytes, IoVector qiov, int flags) {
        if (delayNs > 0) {
            Coroutine.sleepNs(delayNs);
        }
        for (int i = 0; i < qiov.count(); i++) {
            qiov.segment(i).fill(fill);
        }
        served.incrementAndGet();
        return 0;
    }

    @Override
    public int coPwritev(long offset, long bytes, IoVector qiov, int flags) {
        if (delayNs > 0) {
            Coroutine.sleepNs(delayNs);
        }
        served.incrementAndGet();
        return 0;
    }

    @Override
    public void drainBegin() {
        drainBegins.incrementAndGet();
    }

    @Override
    public void drainEnd() {
        drainEnds.incrementAndGet();
    }
}
