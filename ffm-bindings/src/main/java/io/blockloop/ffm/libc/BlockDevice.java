package io.blockloop.ffm.libc;

import io.blockloop.ffm.call.ErrnoCapture;
import io.blockloop.ffm.call.NativeLibrary;
import io.blockloop.ffm.errno.NativeCallException;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Block-device {@code ioctl}s ({@code linux/fs.h}): size, logical and physical sector size, the read-only flag,
 * discard and zero-out of a byte range.
 *
 * <p>Thread safety: stateless; any thread. Each call allocates a small confined argument buffer.
 */
public final class BlockDevice {
    /** {@code _IOR(0x12, 114, size_t)}: device size in bytes ({@code u64}). */
    public static final long BLKGETSIZE64 = 0x80081272L;
    /** {@code _IO(0x12, 104)}: logical sector size ({@code int}). */
    public static final long BLKSSZGET = 0x1268;
    /** {@code _IO(0x12, 123)}: physical sector size ({@code unsigned int}). */
    public static final long BLKPBSZGET = 0x127b;
    /** {@code _IO(0x12, 94)}: whether the device is read-only ({@code int}, non-zero: read-only). */
    public static final long BLKROGET = 0x125e;
    /** {@code _IO(0x12, 119)}: discard {@code u64 range[2]} = {start, length}. */
    public static final long BLKDISCARD = 0x1277;
    /** {@code _IO(0x12, 127)}: write zeroes over {@code u64 range[2]}. */
    public static final long BLKZEROOUT = 0x127f;

    // int ioctl(int fd, unsigned long request, ...): the argument pointer is the first variadic one.
    private static final MethodHandle IOCTL = NativeLibrary.libc().downcall("ioctl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS),
            Linker.Option.firstVariadicArg(2), Linker.Option.captureCallState("errno"));

    private BlockDevice() {
    }

    /** Device size in bytes ({@code BLKGETSIZE64}). */
    public static long size(int fd) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(JAVA_LONG);
            ioctl(fd, BLKGETSIZE64, out, "BLKGETSIZE64");
            return out.get(JAVA_LONG, 0);
        }
    }

    /** Logical sector size in bytes ({@code BLKSSZGET}): the smallest unit the device addresses. */
    public static int logicalBlockSize(int fd) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(JAVA_INT);
            ioctl(fd, BLKSSZGET, out, "BLKSSZGET");
            return out.get(JAVA_INT, 0);
        }
    }

    /** Physical sector size in bytes ({@code BLKPBSZGET}). */
    public static int physicalBlockSize(int fd) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(JAVA_INT);
            ioctl(fd, BLKPBSZGET, out, "BLKPBSZGET");
            return out.get(JAVA_INT, 0);
        }
    }

    /**
     * Whether the device refuses writes ({@code BLKROGET}: {@code blockdev --setro}, {@code losetup -r}, a
     * write-protected disk). Such a device still opens {@code O_RDWR}; every write then fails with {@code EPERM}.
     */
    public static boolean isReadOnly(int fd) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(JAVA_INT);
            ioctl(fd, BLKROGET, out, "BLKROGET");
            return out.get(JAVA_INT, 0) != 0;
        }
    }

    /** Discards {@code [offset, offset + length)}; returns 0 or a negative errno (e.g. {@code -EOPNOTSUPP}). */
    public static int discardOrErrno(int fd, long offset, long length) {
        return rangeOrErrno(fd, BLKDISCARD, offset, length);
    }

    /** Zeroes {@code [offset, offset + length)}; returns 0 or a negative errno. */
    public static int zeroOutOrErrno(int fd, long offset, long length) {
        return rangeOrErrno(fd, BLKZEROOUT, offset, length);
    }

    private static int rangeOrErrno(int fd, long request, long offset, long length) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment range = arena.allocate(JAVA_LONG, 2);
            range.setAtIndex(JAVA_LONG, 0, offset);
            range.setAtIndex(JAVA_LONG, 1, length);
            return ioctlOrErrno(fd, request, range);
        }
    }

    private static void ioctl(int fd, long request, MemorySegment arg, String name) {
        int r = ioctlOrErrno(fd, request, arg);
        if (r < 0) {
            throw new NativeCallException("ioctl(" + name + ")", -r);
        }
    }

    private static int ioctlOrErrno(int fd, long request, MemorySegment arg) {
        MemorySegment errno = ErrnoCapture.segment();
        try {
            int r = (int) IOCTL.invokeExact(errno, fd, request, arg);
            return r < 0 ? -ErrnoCapture.errno(errno) : r;
        } catch (Throwable t) {
            throw FileIo.rethrow(t);
        }
    }

}
