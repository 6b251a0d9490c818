package io.blockloop.cli.io;

import java.io.PrintStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * qemu-io's {@code dump_buffer} ({@code read -v}): 16 bytes a line, the line's image offset in hex, the bytes
 * in hex, then the bytes as text with {@code .} for anything that is not an ASCII letter or digit:
 * <pre>
 * 00000000:  cd cd 41 42 00 00 00 00 00 00 00 00 00 00 00 00  ..AB............
 * 00000010:  00  .
 * </pre>
 *
 * <p>Stateless; any thread.
 */
final class HexDump {
    private static final char[] HEX = "0123456789abcdef".toCharArray();

    private HexDump() {
    }

    /** Dumps {@code buffer}, whose first byte lies at image offset {@code offset}. */
    static void print(PrintStream out, MemorySegment buffer, long offset) {
        long len = buffer.byteSize();
        StringBuilder line = new StringBuilder(80);
        for (long i = 0; i < len; i += 16) {
            line.setLength(0);
            String address = Long.toHexString(offset + i);
            line.append("0".repeat(Math.max(0, 8 - address.length()))).append(address).append(":  ");
            int n = (int) Math.min(16, len - i);
            for (int j = 0; j < n; j++) {
                int b = buffer.get(ValueLayout.JAVA_BYTE, i + j) & 0xff;
                line.append(HEX[b >> 4]).append(HEX[b & 0xf]).append(' ');
            }
            line.append(' ');
            for (int j = 0; j < n; j++) {
                int b = buffer.get(ValueLayout.JAVA_BYTE, i + j) & 0xff;
                boolean alnum = (b >= '0' && b <= '9') || (b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z');
                line.append(alnum ? (char) b : '.');
            }
            out.println(line);
        }
    }
}
