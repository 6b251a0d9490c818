package io.blockloop.block.filter;

import io.blockloop.block.BlockChild;
import io.blockloop.block.BlockDriver;
import io.blockloop.block.BlockLimits;

import java.util.List;

/**
 * A driver that sits above exactly one child and passes requests down to it (QEMU's filter drivers, whose
 * {@code bdrv_filter_child} is {@link #file()}): its only child, its length, its limits and the write flags it
 * supports are the filtered node's. Implementations add what they filter on the I/O methods.
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
        return file().node().limits();
    }

    @Override
    default int supportedWriteFlags() {
        return file().node().driver().supportedWriteFlags();
    }
}
