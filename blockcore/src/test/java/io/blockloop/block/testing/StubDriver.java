package io.blockloop.block.testing;

import io.blockloop.block.BlockDriver;
import io.blockloop.block.BlockLimits;
import io.blockloop.block.IoVector;

import java.util.List;

/**
 * The base of the tests' own {@link BlockDriver}s: an image of a given name, length and limits whose every request
 * succeeds without doing anything (a read leaves the buffer as it is), with no write flags, nothing to describe and
 * nothing to close. A test's driver overrides the requests it is about.
 *
 * <p>Threads: as every driver's; its requests run on the node's home thread.
 */
public abstract class StubDriver implements BlockDriver {
    private final String formatName;
    private final long length;
    private final BlockLimits limits;

    protected StubDriver(String formatName, long length, BlockLimits limits) {
        this.formatName = formatName;
        this.length = length;
        this.limits = limits;
    }

    @Override
    public String formatName() {
        return formatName;
    }

    @Override
    public long length() {
        return length;
    }

    @Override
    public BlockLimits limits() {
        return limits;
    }

    @Override
    public int supportedWriteFlags() {
        return 0;
    }

    @Override
    public int coPreadv(long offset, long bytes, IoVector qiov, int flags) {
        return 0;
    }

    @Override
    public int coPwritev(long offset, long bytes, IoVector qiov, int flags) {
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
    public List<String> describe() {
        return List.of();
    }

    @Override
    public void close() {
    }
}
