package io.blockloop.block.nullio;

import io.blockloop.block.BlockDriver;
import io.blockloop.block.BlockLimits;
import io.blockloop.block.BlockNode;
import io.blockloop.block.IoVector;
import io.blockloop.block.RequestFlags;

import java.util.List;

/**
 * The {@code null} driver (QEMU's {@code null-co}): a device of a given size with no storage. Reads return
 * zeroes, writes are dropped, and no request ever leaves the calling coroutine, so a benchmark on it measures
 * the block layer's own cost per request.
 *
 * <p>Threads: stateless after open; any thread the block layer calls it on.
 */
public final class NullDriver implements BlockDriver {
    private final long size;
    private final boolean readZeroes;

    private NullDriver(long size, boolean readZeroes) {
        this.size = size;
        this.readZeroes = readZeroes;
    }

    /**
     * A null device of {@code size} bytes; {@code readZeroes} false leaves read buffers untouched (QEMU's
     * {@code read-zeroes=off}, which measures even less).
     */
    public static NullDriver open(long size, boolean readZeroes) {
        if (size < 0) {
            throw new IllegalArgumentException("null device size " + size + " is negative");
        }
        if (size > BlockNode.MAX_LENGTH) {
            throw new IllegalArgumentException("null device size " + size + " is too large: at most "
                    + BlockNode.MAX_LENGTH + " bytes");
        }
        return new NullDriver(size, readZeroes);
    }

    @Override
    public String formatName() {
        return "null-co";
    }

    @Override
    public long length() {
        return size;
    }

    @Override
    public BlockLimits limits() {
        return BlockLimits.NONE;
    }

    @Override
    public int supportedWriteFlags() {
        return RequestFlags.FUA;
    }

    @Override
    public int coPreadv(long offset, long bytes, IoVector qiov, int flags) {
        if (readZeroes) {
            qiov.zero(0, bytes);
        }
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
        return List.of("read zeroes: " + (readZeroes ? "on" : "off"));
    }

    @Override
    public void close() {
    }
}
