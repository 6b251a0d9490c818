package io.blockloop.block.backend;

import io.blockloop.aio.IOThread;
import io.blockloop.aio.MainLoop;
import io.blockloop.block.CacheMode;
import io.blockloop.block.RequestFlags;
import io.blockloop.block.file.FileOptions;
import io.blockloop.coroutine.Coroutine;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.RandomAccessFile;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The root README's library example, run as written: the lines between the markers in {@link #example} are the
 * README's code block, character for character after their indentation (the second test checks it), so the
 * README shows code that compiles against the public API and works.
 */
class LibraryExampleTest {
    private static final String BEGIN = "// README example: begin";
    private static final String END = "// README example: end";

    static void example(String path) {
        // README example: begin
        MainLoop.init();                                     // this thread becomes the main loop
        try (IOThread io = new IOThread("disk").start();     // the event loop the disk's I/O runs in
             Arena arena = Arena.ofShared();
             BlockBackend disk = BlockBackend.open("disk",
                     new ImageSpec.Raw(FileOptions.of(path).withCache(CacheMode.NONE)), io.context())) {
            MemorySegment buf = arena.allocate(4096, 4096);  // aligned for O_DIRECT (anything else is bounced)
            buf.fill((byte) 'B');
            disk.write(0, buf, 0);                           // blocking: from a thread that runs no other loop
            disk.writeAsync(4096, buf, RequestFlags.FUA).join(); // a CompletableFuture, completed in the IOThread
            CompletableFuture<Byte> first = new CompletableFuture<>();
            Coroutine.create(() -> {                         // a coroutine in the IOThread: it yields, never blocks
                try {
                    disk.coRead(0, buf);
                    first.complete(buf.get(ValueLayout.JAVA_BYTE, 0));
                } catch (RuntimeException e) {
                    first.completeExceptionally(e);
                }
            }).enterIn(io.context());
            System.out.println((char) (byte) first.join() + " of " + disk.length() + " bytes");
        } finally {
            MainLoop.context().close();
        }
        // README example: end
    }

    @Test
    void theExampleWritesTwoBlocksAndReadsTheFirstBack() throws Exception {
        Path dir = Files.createTempDirectory(Files.createDirectories(Path.of("target", "block-tests")), "example");
        Path image = dir.resolve("disk.img");
        try (RandomAccessFile raf = new RandomAccessFile(image.toFile(), "rw")) {
            raf.setLength(1 << 20);
        }
        ByteArrayOutputStream printed = new ByteArrayOutputStream();
        PrintStream stdout = System.out;
        System.setOut(new PrintStream(printed, true, StandardCharsets.UTF_8));
        try {
            example(image.toString());
        } finally {
            System.setOut(stdout);
        }
        assertEquals("B of 1048576 bytes" + System.lineSeparator(), printed.toString(StandardCharsets.UTF_8));
        byte[] onDisk = Files.readAllBytes(image);
        byte[] expected = new byte[8192];
        Arrays.fill(expected, (byte) 'B');
        assertArrayEquals(expected, Arrays.copyOf(onDisk, 8192));
        assertArrayEquals(new byte[onDisk.length - 8192], Arrays.copyOfRange(onDisk, 8192, onDisk.length),
                "beyond the two blocks the image stays zero");
        Files.delete(image);
        Files.delete(dir);
    }

    @Test
    void theReadmeShowsTheExampleAsWritten() throws Exception {
        List<String> source = Files.readAllLines(Path.of("src", "test", "java", "io", "blockloop", "block",
                "backend", "LibraryExampleTest.java"));
        int begin = indexOfTrimmed(source, BEGIN);
        int end = indexOfTrimmed(source, END);
        List<String> body = source.subList(begin + 1, end);
        int indent = body.getFirst().indexOf(body.getFirst().trim());
        String block = String.join("\n", body.stream().map(l -> l.isBlank() ? "" : l.substring(indent)).toList());
        String readme = Files.readString(Path.of("..", "README.md"));
        assertTrue(readme.contains("```java\n" + block + "\n```\n"),
                "README.md's library example differs from LibraryExampleTest.example; copy it over:\n" + block);
    }

    private static int indexOfTrimmed(List<String> lines, String marker) {
        for (int i = 0; i < lines.size(); i++) {
            if (lines.get(i).trim().equals(marker)) {
                return i;
            }
        }
        throw new AssertionError("marker not found: " + marker);
    }
}
