package io.blockloop.block.file;

import io.blockloop.ffm.errno.Errno;
import io.blockloop.ffm.errno.NativeCallException;
import io.blockloop.ffm.libc.BlockDevice;
import io.blockloop.ffm.libc.FileIo;
import io.blockloop.ffm.libc.FileStat;
import io.blockloop.ffm.libc.OpenFlags;

/**
 * What BlockLoop needs to know about a file or block device before doing I/O on it: its kind, size, block
 * sizes, and the {@code O_DIRECT} alignment the kernel enforces.
 *
 * <p>For a block device the block sizes come from {@code BLKSSZGET}/{@code BLKPBSZGET}. A regular file
 * has no sectors: its logical block size is the probed O_DIRECT request alignment and its physical block size
 * is the filesystem's preferred I/O size ({@code st_blksize}).
 *
 * <p>Immutable value; any thread.
 *
 * @param path              as given
 * @param blockDevice       true for a block device, false for a regular file
 * @param size              bytes
 * @param logicalBlockSize  bytes
 * @param physicalBlockSize bytes
 * @param directIo          whether {@code O_DIRECT} opens work here (false on tmpfs, for instance)
 * @param alignment         the O_DIRECT alignment ({@link DirectIoAlignment#NONE} when direct I/O is impossible)
 */
public record StorageGeometry(String path, boolean blockDevice, long size, int logicalBlockSize,
                              int physicalBlockSize, boolean directIo, DirectIoAlignment alignment) {

    /**
     * Opens {@code path} read-only (with {@code O_DIRECT} when the filesystem allows it), measures it and
     * closes it. Any thread.
     *
     * @throws NativeCallException when the path cannot be opened (message names the call, errno and path)
     * @throws IllegalArgumentException when it is neither a regular file nor a block device
     */
    public static StorageGeometry of(String path) {
        FileKind.of(path); // a FIFO's read-only open below would block
        boolean direct = true;
        int fd;
        try {
            fd = FileIo.open(path, OpenFlags.O_RDONLY | OpenFlags.O_DIRECT | OpenFlags.O_CLOEXEC, 0);
        } catch (NativeCallException e) {
            if (e.errno() != Errno.EINVAL) {
                throw e;
            }
            direct = false; // the filesystem refuses O_DIRECT (tmpfs)
            fd = FileIo.open(path, OpenFlags.O_RDONLY | OpenFlags.O_CLOEXEC, 0);
        }
        try {
            FileStat stat = FileIo.fstat(fd);
            if (FileKind.of(stat, path) == FileKind.BLOCK_DEVICE) {
                DirectIoAlignment alignment = DirectIoAlignment.probe(fd, direct, true);
                return new StorageGeometry(path, true, BlockDevice.size(fd), BlockDevice.logicalBlockSize(fd),
                        BlockDevice.physicalBlockSize(fd), direct, alignment);
            }
            DirectIoAlignment alignment = DirectIoAlignment.probe(fd, direct, false);
            int logical = direct ? alignment.requestAlignment() : 512;
            return new StorageGeometry(path, false, stat.size(), logical, (int) stat.blockSize(), direct, alignment);
        } finally {
            FileIo.closeOrErrno(fd);
        }
    }
}
