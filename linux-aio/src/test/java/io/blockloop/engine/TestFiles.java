package io.blockloop.engine;

import io.blockloop.ffm.libc.FileIo;
import io.blockloop.ffm.libc.OpenFlags;
import io.blockloop.ffm.memory.AlignedBuffer;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

/** Small helpers for tests that work on a file in a JUnit temp dir. */
final class TestFiles {
    static final int ALIGN = 4096;

    private TestFiles() {
    }

    /** Creates {@code path} holding {@code size} pattern bytes ({@link #patternByte}) and returns an fd. */
    static int createWithPattern(Path path, int size, int flags) {
        int fd = FileIo.open(path.toString(), OpenFlags.O_RDWR | OpenFlags.O_CREAT | OpenFlags.O_CLOEXEC, 0644);
        try (AlignedBuffer b = AlignedBuffer.allocate(Math.max(size, 1), ALIGN)) {
            for (int i = 0; i < size; i++) {
                b.segment().set(JAVA_BYTE, i, patternByte(i));
            }
            if (size > 0) {
                FileIo.pwrite(fd, b.segment().asSlice(0, size), 0);
            }
        } finally {
            FileIo.close(fd);
        }
        return FileIo.open(path.toString(), flags | OpenFlags.O_CLOEXEC, 0);
    }

    /** The byte the pattern files hold at file offset {@code offset}. */
    static byte patternByte(long offset) {
        return (byte) (offset * 31 + (offset >>> 9) * 7 + 1);
    }

    /** Checks that {@code buffer} holds the file pattern from {@code fileOffset} up to {@code fileSize}, then zeros. */
    static String checkPatternThenZeros(MemorySegment buffer, long fileOffset, long fileSize) {
        for (long i = 0; i < buffer.byteSize(); i++) {
            long at = fileOffset + i;
            byte expected = at < fileSize ? patternByte(at) : 0;
            byte seen = buffer.get(JAVA_BYTE, i);
            if (seen != expected) {
                return "byte " + i + " (file offset " + at + "): expected " + expected + ", found " + seen;
            }
        }
        return null;
    }

    /** The flush requests completed by the block device {@code /dev/NAME} (field 16 of its {@code stat}). */
    static long flushesCompleted(Path device) throws IOException {
        String[] fields = Files.readString(Path.of("/sys/block", device.getFileName().toString(), "stat"))
                .trim().split("\\s+");
        return Long.parseLong(fields[15]);
    }
}
