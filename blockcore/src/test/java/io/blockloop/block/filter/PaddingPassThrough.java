package io.blockloop.block.filter;

import io.blockloop.block.BlockChild;
import io.blockloop.block.BlockLimits;

import java.util.List;

/**
 * A test driver that passes every request down to its child, like a filter, but declares a request alignment of
 * its own, as a format driver with blocks of its own would: its node pads, and the padded reads and writes go down
 * through the child.
 *
 * <p>Threads: as every driver's.
 */
final class PaddingPassThrough implements FilterDriver {
    private final BlockChild file;
    private final BlockLimits limits;

    PaddingPassThrough(BlockChild file, BlockLimits limits) {
        this.file = file;
        this.limits = limits;
    }

    @Override
    public BlockChild file() {
        return file;
    }

    @Override
    public String formatName() {
        return "padding-pass-through";
    }

    @Override
    public BlockLimits limits() {
        return limits;
    }

    @Override
    public List<String> describe() {
        return List.of("request alignment: " + limits.requestAlignment());
    }

    @Override
    public void close() {
    }
}
