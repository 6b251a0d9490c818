package io.blockloop.cli.io;

import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Checks that read data is one repeated byte ({@code read -P}), and prints qemu-io's message when it is not:
 * {@code Pattern verification failed at offset N, M bytes} (N the image offset of the checked range, M its length).
 *
 * <p>Stateless; any thread.
 */
final class PatternCheck {
    private static final int CHUNK = 64 * 1024;

    private PatternCheck() {
    }

    /**
     * Whether {@code buffer[from, from + length)} holds only {@code pattern}; prints the failure line otherwise.
     *
     * @param imageOffset the image offset of {@code buffer}'s first byte
     */
    static boolean verify(PrintStream out, MemorySegment buffer, long imageOffset, long from, long length, int pattern) {
        if (matches(buffer.asSlice(from, length), (byte) pattern)) {
            return true;
        }
        out.println("Pattern verification failed at offset " + (imageOffset + from) + ", " + length + " bytes");
        return false;
    }

    /** Whether every byte of {@code data} is {@code pattern}. */
    static boolean matches(MemorySegment data, byte pattern) {
        long size = data.byteSize();
        if (size == 0) {
            return true;
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment expected = arena.allocate(Math.min(size, CHUNK));
            expected.fill(pattern);
            for (long at = 0; at < size; at += CHUNK) {
                long n = Math.min(CHUNK, size - at);
                if (MemorySegment.mismatch(data, at, at + n, expected, 0, n) >= 0) {
                    return false;
                }
            }
        }
        return true;
    }
}
