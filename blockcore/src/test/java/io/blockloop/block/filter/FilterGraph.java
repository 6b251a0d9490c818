package io.blockloop.block.filter;

import io.blockloop.aio.AioContext;
import io.blockloop.block.BlockChild;
import io.blockloop.block.BlockDriver;
import io.blockloop.block.BlockNode;
import io.blockloop.block.backend.BlockBackend;
import io.blockloop.block.backend.BlockImages;
import io.blockloop.block.file.FileDriver;
import io.blockloop.block.file.FileOptions;
import io.blockloop.block.nullio.NullDriver;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Function;

/**
 * A test graph: a {@link BlockBackend} over a filter node over a {@code null} or {@code file} node, all in one
 * context. Built and closed in the main loop.
 */
final class FilterGraph<D extends BlockDriver> implements AutoCloseable {
    final BlockNode base;
    final BlockNode filter;
    final D driver;
    final BlockBackend blk;

    private FilterGraph(BlockNode base, Function<BlockChild, D> open, AioContext ctx) {
        this.base = base;
        BlockChild edge = BlockNode.attachForNewParent("file", base);
        this.driver = open.apply(edge);
        this.filter = new BlockNode("filter", driver, ctx);
        this.blk = BlockBackend.attach("blk", filter);
    }

    /** The filter opened by {@code open} over a {@code null} node of {@code size} bytes reading zeroes. */
    static <D extends BlockDriver> FilterGraph<D> overNull(long size, AioContext ctx, Function<BlockChild, D> open) {
        return new FilterGraph<>(new BlockNode("null", NullDriver.open(size, true), ctx), open, ctx);
    }

    /** The filter opened by {@code open} over a {@code file} node of the image {@code file}. */
    static <D extends BlockDriver> FilterGraph<D> overFile(Path file, AioContext ctx, Function<BlockChild, D> open) {
        return new FilterGraph<>(new BlockNode("file", FileDriver.open(FileOptions.of(file.toString()), ctx), ctx),
                open, ctx);
    }

    @Override
    public void close() {
        blk.close();
        filter.close(); // detaches it from the base node
        base.close();
    }

    /** A new main loop on the calling (test) thread. Close it at the end of the test. */
    static AioContext mainLoop() {
        return BlockImages.mainLoop();
    }

    /** A sparse image of {@code size} bytes under the build directory (a disk filesystem: O_DIRECT works). */
    static Path image(long size) throws IOException {
        Path dir = Path.of("target", "block-tests");
        Files.createDirectories(dir);
        Path file = Files.createTempFile(dir, "filter", ".img");
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.setLength(size);
        }
        return file;
    }
}
