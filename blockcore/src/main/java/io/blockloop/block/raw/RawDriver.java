package io.blockloop.block.raw;

import io.blockloop.block.BlockChild;
import io.blockloop.block.BlockDriver;
import io.blockloop.block.BlockLimits;
import io.blockloop.block.IoVector;
import io.blockloop.block.RequestFlags;

import java.util.List;

/**
 * The {@code raw} format driver (QEMU's {@code raw-format.c}): the guest-visible image is the byte range
 * {@code [offset, offset + size)} of its {@code file} child, unchanged. Without a window it passes requests
 * straight through (a filter in all but name).
 *
 * <p>Threads: the same as every driver ({@link BlockDriver}): I/O in coroutines on the node's home thread, which
 * is also the child's (a node and its children share one context), lifecycle from the main loop.
 */
public final class RawDriver implements BlockDriver {
    private final BlockChild file;
    private final long offset;
    private final long size;

    private RawDriver(BlockChild file, long offset, long size) {
        this.file = file;
        this.offset = offset;
        this.size = size;
    }

    /**
     * A raw view of {@code file}'s node starting at {@code offset}, {@code size} bytes long ({@code size < 0}:
     * to the end). Main loop.
     *
     * @throws IllegalArgumentException when the window does not fit in the child or size is not a multiple of 512
     */
    public static RawDriver open(BlockChild file, long offset, long size) {
        long childLength = file.node().length();
        if (offset < 0 || offset > childLength) {
            throw new IllegalArgumentException("raw offset " + offset + " is outside the " + childLength
                    + "-byte file " + file.node().name());
        }
        long effective = size < 0 ? childLength - offset : size;
        if (size >= 0 && (size > childLength - offset)) {
            throw new IllegalArgumentException("raw offset " + offset + " + size " + size + " exceeds the "
                    + childLength + "-byte file " + file.node().name());
        }
        if (size >= 0 && size % 512 != 0) {
            throw new IllegalArgumentException("raw size " + size + " is not a multiple of 512");
        }
        return new RawDriver(file, offset, effective);
    }

    /** The edge to the storage. */
    public BlockChild file() {
        return file;
    }

    @Override
    public List<BlockChild> children() {
        return List.of(file);
    }

    @Override
    public String formatName() {
        return "raw";
    }

    @Override
    public long length() {
        return size;
    }

    /**
     * The file's limits, but a raw node pads nothing itself ({@link BlockLimits#passedDown()}): its requests go down
     * unpadded and the file node pads them in its own coordinates, serialised against all its parents, as QEMU pads
     * only at the protocol node. Padded here, a window's tail block could reach past the file's end (a 1-byte write
     * at the end of a window starting at offset 1 grew the file by 4 KiB); a window ending inside a block wrote back
     * the bytes after its end as it had read them (session 26: a write there that completed in between was lost in
     * 20 of 20 rounds); and a window aligned at both ends wrote back a block over another parent's write to it
     * (session 28).
     */
    @Override
    public BlockLimits limits() {
        return file.node().limits().passedDown();
    }

    @Override
    public int supportedWriteFlags() {
        return RequestFlags.FUA;
    }

    @Override
    public int coPreadv(long at, long bytes, IoVector qiov, int flags) {
        return file.node().coPreadv(offset + at, bytes, qiov, flags);
    }

    @Override
    public int coPwritev(long at, long bytes, IoVector qiov, int flags) {
        return file.node().coPwritev(offset + at, bytes, qiov, flags);
    }

    @Override
    public int coFlush() {
        return file.node().coFlush();
    }

    @Override
    public int coPdiscard(long at, long bytes) {
        return file.node().coPdiscard(offset + at, bytes);
    }

    @Override
    public int coPwriteZeroes(long at, long bytes, int flags) {
        return file.node().coPwriteZeroes(offset + at, bytes, flags);
    }


    @Override
    public List<String> describe() {
        return offset == 0 && size == file.node().length() ? List.of()
                : List.of("offset: " + offset, "size: " + size);
    }

    @Override
    public void close() {
    }
}
