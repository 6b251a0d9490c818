package io.blockloop.block.backend;

import io.blockloop.aio.AioContext;
import io.blockloop.aio.MainLoop;
import io.blockloop.fdmon.FdMonitorKind;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

/** Fixtures of the block-layer tests: image files, patterned native buffers, a main loop per test. */
public final class BlockImages {
    private BlockImages() {
    }

    /** A new main loop on the calling (test) thread. Close it at the end of the test. */
    public static AioContext mainLoop() {
        return mainLoop(FdMonitorKind.AUTO);
    }

    /** A new main loop on the calling (test) thread with the given fd monitor. Close it at the end of the test. */
    static AioContext mainLoop(FdMonitorKind kind) {
        return MainLoop.init(kind);
    }

    /** How many fds this process has open now (entries of {@code /proc/self/fd}). */
    static long openFdCount() throws IOException {
        try (var fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.count();
        }
    }

    /** A sparse image of {@code size} bytes in {@code dir}. */
    static Path image(Path dir, String name, long size) throws IOException {
        Path file = dir.resolve(name);
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.setLength(size);
        }
        return file;
    }

    /** Writes {@code data} into {@code file} at {@code offset} through java.io (an independent path). */
    static void writeDirect(Path file, long offset, byte[] data) throws IOException {
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.seek(offset);
            raf.write(data);
        }
    }

    /** Reads {@code length} bytes of {@code file} at {@code offset} through java.io. */
    static byte[] readDirect(Path file, long offset, int length) throws IOException {
        byte[] data = new byte[length];
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "r")) {
            raf.seek(offset);
            raf.readFully(data);
        }
        return data;
    }

    static byte[] randomBytes(long seed, int length) {
        byte[] data = new byte[length];
        new Random(seed).nextBytes(data);
        return data;
    }

    /** A native buffer of {@code data}, at {@code misalign} bytes past a 4096-aligned address. */
    static MemorySegment buffer(Arena arena, byte[] data, int misalign) {
        MemorySegment base = arena.allocate(data.length + misalign, 4096);
        MemorySegment segment = base.asSlice(misalign, data.length);
        MemorySegment.copy(data, 0, segment, java.lang.foreign.ValueLayout.JAVA_BYTE, 0, data.length);
        return segment;
    }

    static byte[] bytes(MemorySegment segment) {
        return segment.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
    }

    static Path tempDir() throws IOException {
        // Under the build directory (a real disk filesystem: O_DIRECT works there, unlike tmpfs).
        Path dir = Path.of("target", "block-tests");
        Files.createDirectories(dir);
        return Files.createTempDirectory(dir, "img");
    }
}
