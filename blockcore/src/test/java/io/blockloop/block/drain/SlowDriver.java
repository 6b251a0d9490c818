package io.blockloop.block.drain;

import io.blockloop.block.BlockDriver;
import io.blockloop.block.BlockLimits;
import io.blockloop.block.IoVector;
import io.blockloop.coroutine.Coroutine;

import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A test driver (QEMU test-bdrv-drain's {@code bdrv_test}): reads fill the buffer with the node's byte after
 * sleeping {@code delayNs} on the node's clock, so requests stay in flight long enough to be drained; it counts
 * its drain callbacks and the requests it served.
 */
final class SlowDriver implements BlockDriver {
    final AtomicInteger drainBegins = new AtomicInteger();
    final AtomicInteger drainEnds = new AtomicInteger();
    final AtomicInteger served = new AtomicInteger();
    volatile long delayNs;
    private final byte fill;

    SlowDriver(long delayNs, byte fill) {
        this.delayNs = delayNs;
        this.fill = fill;
    }

    @Override
    public String formatName() {
        return "slow-test";
    }

    @Override
    public long length() {
        return 1 << 20;
    }

    @Override
    public BlockLimits limits() {
        return BlockLimits.NONE;
    }

    @Override
    public int supportedWriteFlags() {
        return 0;
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
    public int coFlush() {
        return 0;
    }

    @Override
    public int coPdiscard(long offset, long bytes) {
        return 0;
    }

    @Override
    public int coPwriteZeroes(long offset, long bytes, int flags) {
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


    @Override
    public List<String> describe() {
        return List.of();
    }

    @Override
    public void close() {
    }
}
