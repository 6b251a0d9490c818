package io.blockloop.block.filter;

import io.blockloop.block.BlockChild;
import io.blockloop.block.BlockDriver;
import io.blockloop.block.BlockLimits;
import io.blockloop.block.IoVector;

import java.util.List;

/**
 * A driver that sits above exactly one child and passes requests down to it (QEMU's filter drivers, whose
 * {@code bdrv_filter_child} is {@link #file()}): its only child, its length, its limits and the write flags it
 * supports are the filtered node's, except that it pads nothing itself ({@link BlockLimits#passedDown()}), and every
 * I/O method passes the request to it unchanged. Implementations override the I/O methods they filter.
 *
 * <p>Threads: as {@link BlockDriver}; {@link #file()} any thread.
 */
public interface FilterDriver extends BlockDriver {
    /** The edge to the filtered node. */
    BlockChild file();

    @Override
    default boolean isFilter() {
        return true;
    }

    @Override
    default List<BlockChild> children() {
        return List.of(file());
    }

    @Override
    default long length() {
        return file().node().length();
    }

    @Override
    default BlockLimits limits() {
        return file().node().limits().passedDown();
    }

    @Override
    default int supportedWriteFlags() {
        return file().node().driver().supportedWriteFlags();
    }

    @Override
    default int coPreadv(long offset, long bytes, IoVector qiov, int flags) {
        return file().node().coPreadv(offset, bytes, qiov, flags);
    }

    @Override
    default int coPwritev(long offset, long bytes, IoVector qiov, int flags) {
        return file().node().coPwritev(offset, bytes, qiov, flags);
    }

    @Override
    default int coFlush() {
        return file().node().coFlush();
    }

    @Override
    default int coPdiscard(long offset, long bytes) {
        return file().node().coPdiscard(offset, bytes);
    }

    @Override
    default int coPwriteZeroes(long offset, long bytes, int flags) {
        return file().node().coPwriteZeroes(offset, bytes, flags);
    }
}
