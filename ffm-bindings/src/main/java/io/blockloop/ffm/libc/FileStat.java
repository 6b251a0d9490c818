package io.blockloop.ffm.libc;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The fields of {@code struct stat} (x86-64 layout, 144 bytes) that BlockLoop uses.
 *
 * <p>Immutable value; any thread.
 *
 * @param mode      {@code st_mode}: file type and permissions
 * @param size      {@code st_size}: bytes (0 for a block device: use {@link BlockDevice#size})
 * @param blockSize {@code st_blksize}: preferred I/O size
 * @param blocks    {@code st_blocks}: 512-byte blocks allocated
 * @param rdev      {@code st_rdev}: device number of a device file
 */
public record FileStat(int mode, long size, long blockSize, long blocks, long rdev) {
    static final long STRUCT_SIZE = 144;
    private static final int S_IFMT = 0170000;
    private static final int S_IFREG = 0100000;
    private static final int S_IFBLK = 0060000;
    private static final int S_IFCHR = 0020000;

    static FileStat of(MemorySegment st) {
        return new FileStat(st.get(ValueLayout.JAVA_INT, 24), st.get(ValueLayout.JAVA_LONG, 48),
                st.get(ValueLayout.JAVA_LONG, 56), st.get(ValueLayout.JAVA_LONG, 64), st.get(ValueLayout.JAVA_LONG, 40));
    }

    public boolean isRegularFile() {
        return (mode & S_IFMT) == S_IFREG;
    }

    public boolean isBlockDevice() {
        return (mode & S_IFMT) == S_IFBLK;
    }

    public boolean isCharDevice() {
        return (mode & S_IFMT) == S_IFCHR;
    }
}
