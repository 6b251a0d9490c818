package io.blockloop.cli.io;

import io.blockloop.cli.CommandFailure;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Fixtures of the {@code blockloop io} tests: one run of the command with its output captured (exit status as
 * the {@code blockloop} dispatcher computes it), qemu-iotests' timing filter, and image files on a real disk
 * filesystem under {@code target/} (O_DIRECT works there, unlike tmpfs).
 */
record IoRun(int exit, String out, String err) {
    /** qemu-iotests' {@code _filter_qemu_io}: the timing part of the statistics line. */
    private static final Pattern TIMING = Pattern.compile(
            "[0-9]* ops; [0-9/:. sec]* \\([0-9/.inf]* [EPTGMKiBbytes]*/sec and [0-9/.inf]* ops/sec\\)");

    /** Runs {@code blockloop io ARGS} in this thread. */
    static IoRun io(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream outStream = new PrintStream(out, true, StandardCharsets.UTF_8);
        PrintStream errStream = new PrintStream(err, true, StandardCharsets.UTF_8);
        int exit = 0;
        try {
            new IoCommand(outStream, errStream).run(List.of(args));
        } catch (CommandFailure f) {
            errStream.println("blockloop: " + f.getMessage()); // as BlockLoopCommand prints it
            exit = f.exitStatus();
        }
        return new IoRun(exit, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    /** Standard output with the timing filtered, as lines. */
    List<String> lines() {
        return filterTiming(out).lines().toList();
    }

    /** Standard error as lines. */
    List<String> errLines() {
        return err.lines().toList();
    }

    /** {@code 512 bytes, 1 ops; 00.00 sec (...)} becomes {@code 512 bytes, X ops; XX:XX:XX.X (XXX YYY/sec and XXX ops/sec)}. */
    static String filterTiming(String text) {
        return TIMING.matcher(text).replaceAll("X ops; XX:XX:XX.X (XXX YYY/sec and XXX ops/sec)");
    }

    /** The filtered statistics line for {@code size} ({@code 64 KiB}). */
    static String stats(String size) {
        return size + ", X ops; XX:XX:XX.X (XXX YYY/sec and XXX ops/sec)";
    }

    /** A fresh directory for images under {@code target/io-tests}. */
    static Path imageDir() throws IOException {
        Path base = Path.of("target", "io-tests");
        Files.createDirectories(base);
        return Files.createTempDirectory(base, "img");
    }

    /** A sparse image of {@code size} bytes. */
    static Path image(Path dir, String name, long size) throws IOException {
        Path file = dir.resolve(name);
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.setLength(size);
        }
        return file;
    }

    /** {@code length} bytes of {@code file} at {@code offset}, read through java.io. */
    static byte[] bytes(Path file, long offset, int length) throws IOException {
        byte[] data = new byte[length];
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "r")) {
            raf.seek(offset);
            raf.readFully(data);
        }
        return data;
    }

    static void deleteTree(Path dir) throws IOException {
        if (dir == null || !Files.exists(dir)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
