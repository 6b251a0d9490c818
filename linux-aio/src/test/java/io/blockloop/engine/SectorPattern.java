package io.blockloop.engine;

import java.lang.foreign.MemorySegment;
import java.util.zip.CRC32C;

import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

/**
 * Self-describing 512-byte sector contents for write-then-verify tests: the sector number, a write stamp,
 * pseudo-random filler derived from both, and a CRC32C of the rest. A sector that was never written (stamp 0)
 * must read as zeros. A wrong stamp means a lost or misplaced write; a bad CRC means torn or corrupted data.
 */
final class SectorPattern {
    static final int SECTOR = 512;
    private static final int LONGS = SECTOR / 8;

    private SectorPattern() {
    }

    static void fill(MemorySegment buffer, long at, long sector, int stamp) {
        long x = sector * 0x9E3779B97F4A7C15L ^ stamp * 0xC2B2AE3D27D4EB4FL;
        buffer.set(JAVA_LONG_UNALIGNED, at, sector);
        buffer.set(JAVA_LONG_UNALIGNED, at + 8, stamp);
        for (int i = 2; i < LONGS - 1; i++) {
            x += 0x9E3779B97F4A7C15L;
            long z = x;
            z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
            z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
            buffer.set(JAVA_LONG_UNALIGNED, at + i * 8L, z ^ (z >>> 31));
        }
        buffer.set(JAVA_LONG_UNALIGNED, at + SECTOR - 8, crc(buffer, at));
    }

    /** Null when the sector at {@code at} holds what {@code stamp} wrote there, else what is wrong. */
    static String check(MemorySegment buffer, long at, long sector, int stamp) {
        if (stamp == 0) {
            for (int i = 0; i < LONGS; i++) {
                if (buffer.get(JAVA_LONG_UNALIGNED, at + i * 8L) != 0) {
                    return "sector " + sector + " was never written but is not zero";
                }
            }
            return null;
        }
        long seenSector = buffer.get(JAVA_LONG_UNALIGNED, at);
        long seenStamp = buffer.get(JAVA_LONG_UNALIGNED, at + 8);
        if (seenSector != sector || seenStamp != stamp) {
            return "sector " + sector + ": expected stamp " + stamp + ", found sector " + seenSector + " stamp "
                    + seenStamp;
        }
        if (buffer.get(JAVA_LONG_UNALIGNED, at + SECTOR - 8) != crc(buffer, at)) {
            return "sector " + sector + " stamp " + stamp + ": checksum mismatch";
        }
        return null;
    }

    private static long crc(MemorySegment buffer, long at) {
        CRC32C crc = new CRC32C();
        crc.update(buffer.asSlice(at, SECTOR - 8).asByteBuffer());
        return crc.getValue();
    }
}
