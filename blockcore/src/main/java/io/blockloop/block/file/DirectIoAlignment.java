package io.blockloop.block.file;

import io.blockloop.ffm.errno.Errno;
import io.blockloop.ffm.libc.BlockDevice;
import io.blockloop.ffm.libc.FileIo;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * The alignment {@code O_DIRECT} I/O needs on one open fd, found by probing the kernel as QEMU's
 * {@code raw_probe_alignment} does.
 *
 * <ul>
 *   <li>{@code requestAlignment}: offsets and lengths must be multiples of it. A block device reports its
 *       logical sector size; otherwise reads of 1, 512, ... 4096 bytes at offset 0 are tried and the first
 *       one the kernel accepts wins. A read of 1 byte succeeding on an {@code O_DIRECT} fd means the probe
 *       cannot tell (some filesystems skip the check for unallocated blocks), so the safe maximum is used.</li>
 *   <li>{@code memoryAlignment}: buffer addresses must be multiples of it, probed by reading into a buffer
 *       shifted by 1, 512, ... bytes from a 4096-aligned base. If even 1 works, the request alignment is used.</li>
 * </ul>
 * Linux reports misalignment as {@code EINVAL}; any other outcome (data, EOF, another error) counts as "this
 * alignment works", because only {@code EINVAL} tells about alignment.
 *
 * <p>Immutable value; any thread.
 *
 * @param requestAlignment bytes; 1 when the fd is not {@code O_DIRECT}
 * @param memoryAlignment  bytes; 1 when the fd is not {@code O_DIRECT}
 */
public record DirectIoAlignment(int requestAlignment, int memoryAlignment) {
    /** The largest alignment probed, and the fallback when the probe is inconclusive. */
    public static final int MAX_ALIGNMENT = 4096;
    private static final int[] CANDIDATES = {1, 512, 1024, 2048, 4096};

    /** No alignment constraint (buffered I/O). */
    public static final DirectIoAlignment NONE = new DirectIoAlignment(1, 1);

    /**
     * Probes {@code fd}. Any thread; reads at offset 0 only, never writes.
     *
     * @param direct       whether the fd was opened with {@code O_DIRECT}
     * @param blockDevice  whether it is a block device (its logical sector size is then authoritative)
     * @throws IllegalStateException when no alignment up to 4096 works ("Could not find working O_DIRECT alignment")
     */
    public static DirectIoAlignment probe(int fd, boolean direct, boolean blockDevice) {
        if (!direct) {
            return NONE;
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buffer = arena.allocate(2L * MAX_ALIGNMENT, MAX_ALIGNMENT);
            int request = blockDevice ? BlockDevice.logicalBlockSize(fd) : 0;
            if (request == 0) {
                for (int length : CANDIDATES) {
                    if (works(fd, buffer, length)) {
                        request = length == 1 ? MAX_ALIGNMENT : length;
                        break;
                    }
                }
            }
            int memory = 0;
            for (int shift : CANDIDATES) {
                if (works(fd, buffer.asSlice(shift), MAX_ALIGNMENT)) {
                    memory = shift == 1 ? request : shift;
                    break;
                }
            }
            if (request == 0 || memory == 0) {
                throw new IllegalStateException("Could not find working O_DIRECT alignment (try cache=writeback)");
            }
            return new DirectIoAlignment(request, memory);
        }
    }

    private static boolean works(int fd, MemorySegment buffer, long length) {
        return FileIo.preadOrErrno(fd, buffer, length, 0) != -Errno.EINVAL;
    }
}
