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
 * context; or, to see a padded request's reads and writes pass through the filter, with a node above the filter
 * that pads ({@link #paddedOverFile}). Built and closed in the main loop.
 */
final class FilterGraph<D extends BlockDriver> implements AutoCloseable {
    final BlockNode base;
    final BlockNode filter;
    final D driver;
    /** The node that pads above the filter, or null. */
    final BlockNode padding;
    final BlockBackend blk;

    private FilterGraph(BlockNode base, Function<BlockChild, D> open, AioContext ctx, boolean padAbove) {
        this.base = base;
        BlockChild edge = BlockNode.attachForNewParent("file", base);
        this.driver = open.apply(edge);
        this.filter = new BlockNode("filter", driver, ctx);
        this.padding = padAbove ? new BlockNode("padding", new PaddingPassThrough(
                BlockNode.attachForNewParent("file", filter), base.limits()), ctx) : null;
        this.blk = BlockBackend.attach("blk", padAbove ? padding : filter);
    }

    /** The filter opened by {@code open} over a {@code null} node of {@code size} bytes reading zeroes. */
    static <D extends BlockDriver> FilterGraph<D> overNull(long size, AioContext ctx, Function<BlockChild, D> open) {
        return new FilterGraph<>(new BlockNode("null", NullDriver.open(size, true), ctx), open, ctx, false);
    }

    /** The filter opened by {@code open} over a {@code file} node of the image {@code file}. */
    static <D extends BlockDriver> FilterGraph<D> overFile(Path file, AioContext ctx, Function<BlockChild, D> open) {
        return new FilterGraph<>(fileNode(file, ctx), open, ctx, false);
    }

    /**
     * As {@link #overFile}, with a node above the filter that pads to the file's request alignment
     * ({@link PaddingPassThrough}): a filter pads nothing itself, so this is how a test sees a padded request's
     * reads and writes pass through it.
     */
    static <D extends BlockDriver> FilterGraph<D> paddedOverFile(Path file, AioContext ctx,
                                                                 Function<BlockChild, D> open) {
        return new FilterGraph<>(fileNode(file, ctx), open, ctx, true);
    }

    private static BlockNode fileNode(Path file, AioContext ctx) {
        return new BlockNode("file", FileDriver.open(FileOptions.of(file.toString()), ctx), ctx);
    }

    @Override
    public void close() {
        blk.close();
        if (padding != null) {
            padding.close(); // detaches it from the filter node
        }
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
