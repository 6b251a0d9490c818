package io.blockloop.block.file;

import io.blockloop.aio.AioContext;
import io.blockloop.block.BlockDriver;
import io.blockloop.block.BlockLimits;
import io.blockloop.block.BlockNode;
import io.blockloop.block.BounceBuffers;
import io.blockloop.block.IoVector;
import io.blockloop.block.RequestFlags;
import io.blockloop.block.Warnings;
import io.blockloop.engine.BlockingCall;
import io.blockloop.engine.IoEngine;
import io.blockloop.ffm.call.Availability;
import io.blockloop.ffm.errno.Errno;
import io.blockloop.ffm.errno.NativeCallException;
import io.blockloop.ffm.libc.BlockDevice;
import io.blockloop.ffm.libc.FileIo;
import io.blockloop.ffm.libc.FileStat;
import io.blockloop.ffm.libc.OpenFlags;

import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * The {@code file} protocol driver (QEMU's {@code file-posix.c}, drivers {@code file} and {@code host_device}):
 * I/O on a regular file or a block device through the {@link IoEngine} chosen with {@code aio=}, shared with the
 * other nodes of the node's {@link AioContext} ({@link ContextEngines}).
 *
 * <ul>
 *   <li>{@code cache=none}/{@code directsync} open with {@code O_DIRECT}; the request and memory alignment are
 *       probed at open ({@link DirectIoAlignment}) and reported as the node's limits, so the block layer pads
 *       unaligned requests; buffers that are misaligned in memory are bounced here.</li>
 *   <li>The engine: {@code aio=auto} takes io_uring, else Linux AIO when {@code O_DIRECT}, else threads. An
 *       engine asked for explicitly that cannot run here falls back to threads with a one-line warning;
 *       {@code aio=native} without {@code O_DIRECT} is refused, as in QEMU (Linux AIO blocks in
 *       {@code io_submit} on buffered files).</li>
 *   <li>Flush is the engine's {@code fdatasync}. FUA writes carry {@code RWF_DSYNC}.</li>
 *   <li>Discard: {@code BLKDISCARD} on block devices, {@code fallocate(PUNCH_HOLE|KEEP_SIZE)} on files.
 *       Write-zeroes: {@code BLKZEROOUT} on block devices opened {@code O_DIRECT} (with the page cache it would
 *       leave stale pages, QEMU's reason too), {@code fallocate(ZERO_RANGE)} on files, punching a hole first when
 *       unmapping is allowed. Both run on the context's thread pool; a storage that cannot do them answers
 *       {@code -EOPNOTSUPP} and the block layer falls back (discard: no-op; zeroes: a buffer of zeroes).</li>
 *   <li>Image locking: OFD locks in QEMU's layout ({@link ImageLock}), taken at open.</li>
 * </ul>
 *
 * <p>Threads: {@link #open} and {@link #close()} are global-state code (main loop). I/O methods run in coroutines
 * on the home thread of the node's context, which owns the engines and {@link EngineWaiters}.
 */
public final class FileDriver implements BlockDriver {
    private final String path;
    private final int fd;
    private final boolean blockDevice;
    private final boolean direct;
    private final boolean readOnly;
    private final long length;
    private final DirectIoAlignment alignment;
    private final BlockLimits limits;
    private final AioMode engineMode;
    private final EngineWaiters waiters = new EngineWaiters();
    private AioContext context;
    /** The engine of {@link #context}; looked up on first I/O there (on its home thread). */
    private IoEngine engine;
    private boolean closed;

    private FileDriver(String path, int fd, boolean blockDevice, boolean direct, boolean readOnly, long length,
                       DirectIoAlignment alignment, AioMode engineMode, AioContext context) {
        this.path = path;
        this.fd = fd;
        this.blockDevice = blockDevice;
        this.direct = direct;
        this.readOnly = readOnly;
        this.length = length;
        this.alignment = alignment;
        this.engineMode = engineMode;
        this.context = context;
        this.limits = new BlockLimits(alignment.requestAlignment(), alignment.memoryAlignment(),
                IoEngine.MAX_TRANSFER & -(long) Math.max(alignment.requestAlignment(), 4096));
    }

    /**
     * Opens the file for a node living in {@code context}. Main loop.
     *
     * @throws IllegalArgumentException for options that cannot work together, or a path that is neither a regular
     *                                  file nor a block device
     * @throws IllegalStateException    when the image is locked by another user, O_DIRECT is refused, a block device
     *                                  opened for writing is read-only, or a writable O_DIRECT image's size is not
     *                                  a multiple of its request alignment
     * @throws NativeCallException      when the file cannot be opened (message names the path and errno)
     */
    public static FileDriver open(FileOptions options, AioContext context) {
        boolean direct = options.cache().direct();
        AioMode mode = resolveEngine(options.aio(), direct);
        int flags = (options.readOnly() ? OpenFlags.O_RDONLY : OpenFlags.O_RDWR) | OpenFlags.O_CLOEXEC
                | (direct ? OpenFlags.O_DIRECT : 0);
        FileKind.of(options.path()); // refuses directories, FIFOs and other files before an open could mislead or block
        int fd;
        try {
            fd = FileIo.open(options.path(), flags, 0);
        } catch (NativeCallException e) {
            if (e.errno() == Errno.EINVAL && direct) {
                throw new IllegalStateException("Could not open '" + options.path() + "' with O_DIRECT (cache="
                        + options.cache().option() + "): the filesystem refuses it; use cache=writeback");
            }
            throw e;
        }
        try {
            FileStat stat = FileIo.fstat(fd);
            boolean blockDevice = FileKind.of(stat, options.path()) == FileKind.BLOCK_DEVICE;
            if (blockDevice && !options.readOnly() && BlockDevice.isReadOnly(fd)) {
                // It opened O_RDWR all the same, and every write would fail with EPERM; QEMU refuses it at open.
                throw new IllegalStateException("Could not open '" + options.path()
                        + "': The device is not writable: Permission denied; open it read-only");
            }
            long length = blockDevice ? BlockDevice.size(fd) : stat.size();
            if (length > BlockNode.MAX_LENGTH) { // a sparse file on XFS may be that long; QEMU refuses it too
                throw new IllegalStateException("Could not open '" + options.path() + "': File too large ("
                        + length + " bytes, at most " + BlockNode.MAX_LENGTH + ")");
            }
            if (options.locking()) {
                int[] perms = ImageLock.permissions(options.readOnly(), options.forceShare());
                ImageLock.acquire(fd, options.path(), perms[0], perms[1]);
            }
            DirectIoAlignment alignment = DirectIoAlignment.probe(fd, direct, blockDevice);
            if (!options.readOnly() && length % alignment.requestAlignment() != 0) {
                // A write padded to whole blocks at the end would make the file longer (it did: a 1000000-byte
                // image grew to 1003520 bytes). QEMU refuses such an image for writing, with this message.
                throw new IllegalStateException("Could not open '" + options.path() + "': Cannot get 'write' "
                        + "permission without 'resize': Image size is not a multiple of request alignment ("
                        + length + " bytes, request alignment " + alignment.requestAlignment() + " with cache="
                        + options.cache().option() + "); open it read-only, or with cache=writeback");
            }
            return new FileDriver(options.path(), fd, blockDevice, direct, options.readOnly(), length, alignment,
                    mode, context);
        } catch (RuntimeException | Error e) {
            FileIo.closeOrErrno(fd);
            throw e;
        }
    }

    /** The engine {@code asked} resolves to here; warns when it falls back. */
    static AioMode resolveEngine(AioMode asked, boolean direct) {
        if (asked == AioMode.AUTO) {
            if (AioMode.IO_URING.availability().available()) {
                return AioMode.IO_URING;
            }
            return direct && AioMode.NATIVE.availability().available() ? AioMode.NATIVE : AioMode.THREADS;
        }
        if (asked == AioMode.NATIVE && !direct) {
            throw new IllegalArgumentException("aio=native requires cache=none or cache=directsync (O_DIRECT)");
        }
        Availability availability = asked.availability();
        if (!availability.available()) {
            Warnings.emit("aio=" + asked.option() + " is not available here (" + availability.reason()
                    + "); using aio=threads");
            return AioMode.THREADS;
        }
        return asked;
    }

    /** The engine this node uses. */
    public AioMode engineMode() {
        return engineMode;
    }

    /** Whether the fd is {@code O_DIRECT}. */
    public boolean direct() {
        return direct;
    }

    /** The open fd (for tests that check flags through an independent path). */
    public int fd() {
        return fd;
    }

    @Override
    public String formatName() {
        return blockDevice ? "host_device" : "file";
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
        return RequestFlags.FUA;
    }

    @Override
    public int coPreadv(long offset, long bytes, IoVector qiov, int flags) {
        return rw(offset, bytes, qiov, 0, false);
    }

    @Override
    public int coPwritev(long offset, long bytes, IoVector qiov, int flags) {
        if (readOnly) {
            return -Errno.EBADF;
        }
        return rw(offset, bytes, qiov, (flags & RequestFlags.FUA) != 0 ? IoEngine.FUA : 0, true);
    }

    private int rw(long offset, long bytes, IoVector qiov, int engineFlags, boolean write) {
        if (direct && !qiov.isAligned(alignment.memoryAlignment(), alignment.requestAlignment())
                || qiov.count() > IoEngine.MAX_IOV) {
            return bounced(offset, bytes, qiov, engineFlags, write);
        }
        IoEngine e = engine();
        int slot = waiters.reserve();
        try {
            if (qiov.count() == 1) {
                MemorySegment buffer = qiov.segment(0);
                if (write) {
                    e.write(fd, buffer, offset, engineFlags, waiters, slot);
                } else {
                    e.read(fd, buffer, offset, waiters, slot);
                }
            } else if (write) {
                e.writev(fd, qiov.iovArray(), qiov.count(), offset, engineFlags, waiters, slot);
            } else {
                e.readv(fd, qiov.iovArray(), qiov.count(), offset, waiters, slot);
            }
        } catch (RuntimeException | Error ex) {
            waiters.cancel(slot);
            throw ex;
        }
        long result = waiters.await(slot);
        return result < 0 ? (int) result : 0;
    }

    /** Misaligned buffers under O_DIRECT: through an aligned copy (QEMU's {@code QEMU_AIO_MISALIGNED} path). */
    private int bounced(long offset, long bytes, IoVector qiov, int engineFlags, boolean write) {
        long align = Math.max(alignment.memoryAlignment(), 4096);
        try (BounceBuffers.Buffer bounce = BounceBuffers.acquire(bytes, align)) {
            if (write) {
                qiov.copyTo(0, bounce.memory(), 0, bytes);
            }
            int ret = rw(offset, bytes, bounce.vector(), engineFlags, write);
            if (ret == 0 && !write) {
                qiov.copyFrom(bounce.memory(), 0, 0, bytes);
            }
            return ret;
        }
    }

    @Override
    public int coFlush() {
        if (readOnly) {
            return 0;
        }
        int slot = waiters.reserve();
        try {
            engine().fdatasync(fd, waiters, slot);
        } catch (RuntimeException | Error ex) {
            waiters.cancel(slot);
            throw ex;
        }
        return (int) waiters.await(slot);
    }

    @Override
    public int coPdiscard(long offset, long bytes) {
        if (readOnly) {
            return -Errno.EBADF;
        }
        int fd = this.fd;
        BlockingCall call = blockDevice
                ? () -> translateUnsupported(BlockDevice.discardOrErrno(fd, offset, bytes))
                : () -> translateUnsupported(FileIo.fallocateOrErrno(fd,
                FileIo.FALLOC_FL_PUNCH_HOLE | FileIo.FALLOC_FL_KEEP_SIZE, offset, bytes));
        return runOnThreadPool(call);
    }

    @Override
    public int coPwriteZeroes(long offset, long bytes, int flags) {
        if (readOnly) {
            return -Errno.EBADF;
        }
        int fd = this.fd;
        boolean unmap = (flags & RequestFlags.MAY_UNMAP) != 0;
        if (blockDevice) {
            if (!direct) {
                return -Errno.EOPNOTSUPP; // BLKZEROOUT bypasses the page cache: stale pages (QEMU disables it too)
            }
            return runOnThreadPool(() -> zeroBlockDevice(fd, offset, bytes, unmap,
                    (flags & RequestFlags.NO_FALLBACK) != 0));
        }
        return runOnThreadPool(() -> {
            if (unmap) {
                int r = FileIo.fallocateOrErrno(fd, FileIo.FALLOC_FL_PUNCH_HOLE | FileIo.FALLOC_FL_KEEP_SIZE,
                        offset, bytes);
                if (r == 0) {
                    return 0;
                }
            }
            return translateUnsupported(FileIo.fallocateOrErrno(fd, FileIo.FALLOC_FL_ZERO_RANGE
                    | FileIo.FALLOC_FL_KEEP_SIZE, offset, bytes));
        });
    }

    /**
     * Zeroes a range of a block device, as QEMU's file-posix does. A punched hole ({@code fallocate}, which the
     * kernel turns into a device write-zeroes that must not fall back to writing pages, and that may unmap) when
     * unmapping is allowed; else {@code BLKZEROOUT}, which writes zero pages itself when the device cannot zero a
     * range, so a caller that forbids that slow way ({@code NO_FALLBACK}) gets {@code EOPNOTSUPP}. Before, the
     * ioctl ran for every request: {@code write -z -n} on a device without write-zeroes wrote the whole range.
     * A pool worker.
     */
    private static long zeroBlockDevice(int fd, long offset, long bytes, boolean unmap, boolean noFallback) {
        if (unmap) {
            int r = FileIo.fallocateOrErrno(fd, FileIo.FALLOC_FL_PUNCH_HOLE | FileIo.FALLOC_FL_KEEP_SIZE, offset,
                    bytes);
            if (r == 0 || translateUnsupported(r) != -Errno.EOPNOTSUPP) {
                return r;
            }
        }
        if (noFallback) {
            return -Errno.EOPNOTSUPP;
        }
        return translateUnsupported(BlockDevice.zeroOutOrErrno(fd, offset, bytes));
    }

    private int runOnThreadPool(BlockingCall call) {
        AioContext ctx = context;
        int slot = waiters.reserve();
        try {
            ContextEngines.of(ctx).threadPool().submitCall(call, waiters, slot);
        } catch (RuntimeException | Error ex) {
            waiters.cancel(slot);
            throw ex;
        }
        long result = waiters.await(slot);
        return result < 0 ? (int) result : 0;
    }

    /** The errnos that mean "this storage cannot" become {@code -EOPNOTSUPP} (QEMU's {@code translate_err}). */
    private static long translateUnsupported(int ret) {
        return switch (-ret) {
            case Errno.ENODEV, Errno.ENOSYS, Errno.EOPNOTSUPP, Errno.ENOTTY -> -Errno.EOPNOTSUPP;
            case Errno.EINVAL -> -Errno.EOPNOTSUPP; // ZERO_RANGE on a filesystem or range it does not support
            default -> ret;
        };
    }

    /**
     * Registers {@code buffer} with this context's engine (io_uring: fixed buffers; the other engines decline). The
     * registration belongs to the engine of the node's current context and does not follow the node into another.
     */
    @Override
    public boolean registerBuffer(MemorySegment buffer) {
        return engine().registerBuffer(buffer);
    }

    @Override
    public boolean unregisterBuffer(MemorySegment buffer) {
        return engine().unregisterBuffer(buffer);
    }

    private IoEngine engine() {
        IoEngine e = engine;
        if (e == null) {
            e = ContextEngines.of(context).engine(engineMode);
            engine = e;
        }
        return e;
    }

    @Override
    public void attachContext(AioContext ctx) {
        context = ctx;
        engine = null; // looked up again, on the new home thread, at the first request there
    }

    @Override
    public void detachContext() {
        if (waiters.outstanding() != 0) {
            throw new IllegalStateException("file node on " + path + " detached with requests in flight");
        }
        engine = null;
    }

    @Override
    public List<String> describe() {
        return List.of("path: " + path,
                "cache: " + (direct ? "O_DIRECT" : "page cache"),
                "aio: " + engineMode.option(),
                "request alignment: " + alignment.requestAlignment(),
                "memory alignment: " + alignment.memoryAlignment());
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            FileIo.closeOrErrno(fd); // drops the OFD locks with the open file description
        }
    }

    @Override
    public String toString() {
        return "FileDriver[" + path + ", " + engineMode.option() + (direct ? ", O_DIRECT" : "") + "]";
    }
}
