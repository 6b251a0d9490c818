package io.blockloop.cli.io;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The same command script through the real {@code qemu-io} (Debian's {@code qemu-utils}, which
 * {@code bin/run-tests} installs) and through {@code blockloop io}, on two copies of one image: standard output
 * must match line for line once the timing is filtered as qemu-iotests filter it, standard error too (apart
 * from blockloop's closing "N of M commands failed" line), and so must the exit status and the image bytes.
 * The scripts keep at most one asynchronous request in flight, so the order of completions is fixed.
 *
 * <p>Discards are whole 4 KiB blocks: with O_DIRECT on a fresh sparse file the probed request alignment is
 * 4096, and BlockLoop's node leaves the unaligned ends of a discard alone where QEMU passes them down to the
 * driver (both are allowed, a discard being advisory; the data then differs).
 */
class QemuIoComparisonTest {
    private static final List<String> SCRIPT = List.of(
            "write -P 0xa 0 64k", "read -P 0xa 0 64k", "read -P 0xab 0 512", "read -v 0 40",
            "write -f -P 0x41 100 50", "read -v -P 0x41 -s 10 -l 20 90 70", "read -P 0x41 -s 10 -l 20 0 512",
            "readv -P 0xa 1k 512 1k 2k", "writev -P 3 0 512 1k", "readv -v 0 17",
            "aio_write -P 7 64k 4k", "aio_flush", "read -P 7 64k 4k",
            "aio_write -P 9 72k 1k 3k", "aio_flush", "aio_read -P 9 72k 2k 2k", "aio_flush",
            "aio_read -q -P 8 72k 4k", "aio_flush", "aio_write -q -z 72k 4k", "aio_flush", "read -P 0 72k 4k",
            "discard 0 64k", "read -P 0 0 4k", "write -P 5 128k 8k", "write -z 128k 4k", "write -z -u 132k 4k",
            "read -P 0 128k 8k", "write -q 0 1", "read -q -P 0xcd 0 1", "read -C -q 0 1",
            "read 0 0", "write 1 0", "r 0 1", "w 1 1", "d 0 4k", "f", "l", "length", "info", "flush",
            "read 1M 512", "write 1048000 1024", "readv 1M 512", "writev 1M 1", "discard 1M 1", "write -z 1M 1",
            "aio_read 1M 512", "aio_flush", "aio_write 1M 512", "aio_flush",
            "read abc 512", "read 0 5x", "read 18446744073709551616 1", "read -- -1 512", "read 0 3G",
            "write 0 3G", "discard 0 3G", "readv 0 3G", "readv 0 512 abc", "read -P 300 0 1", "read -P 0x 0 1",
            "read -P 010 0 1", "writev -P 0x12345 0 1", "read -P 0 -s 600 0 512", "read -l 4 -P 1 0 2",
            "write -u 0 512", "write -n 0 512", "write -z -P 1 0 512", "aio_write -u 0 512",
            "aio_write -z 0 512 512", "bogus", "read", "read 0", "flush 1", "aio_flush x", "length 1 2", "",
            "  length  ");

    private Path dir;

    @BeforeEach
    void setUp() throws IOException {
        dir = IoRun.imageDir();
    }

    @AfterEach
    void tearDown() throws IOException {
        IoRun.deleteTree(dir);
    }

    @Test
    void rawImageWithDefaultCache() throws Exception {
        compareOnImages(List.of("-f", "raw"), List.of("-f", "raw"));
    }

    @Test
    void rawImageWithDirectIo() throws Exception {
        compareOnImages(List.of("-f", "raw", "-n"), List.of("-f", "raw", "-n"));
    }

    @Test
    void fileProtocolWithNativeAio() throws Exception {
        compareOnImages(List.of("-f", "file", "-t", "none", "-i", "native"),
                List.of("-f", "file", "-t", "none", "-i", "native"));
    }

    @Test
    void nullDeviceAgainstNullCo() throws Exception {
        List<String> script = List.of("length", "info", "read -P 0 0 64k", "write -P 1 0 4k", "read -P 0 0 4k",
                "readv -P 0 0 1k 1k", "aio_write 4k 4k", "aio_flush", "aio_read -P 0 8k 4k", "aio_flush",
                "discard 0 4k", "write -z 0 4k", "flush", "read 1M 1", "read -P 1 0 1");
        Output qemu = qemuIo(List.of("--image-opts"), script, "driver=null-co,size=1M,read-zeroes=on");
        IoRun ours = IoRun.io(arguments(List.of("-f", "null"), script, "1M"));
        assertSameOutput(qemu, ours);
    }

    private void compareOnImages(List<String> qemuOptions, List<String> ourOptions) throws Exception {
        Path qemuImage = IoRun.image(dir, "qemu.raw", 1L << 20);
        Path ourImage = IoRun.image(dir, "ours.raw", 1L << 20);
        Output qemu = qemuIo(qemuOptions, SCRIPT, qemuImage.toString());
        IoRun ours = IoRun.io(arguments(ourOptions, SCRIPT, ourImage.toString()));
        assertSameOutput(qemu, ours);
        assertArrayEquals(Files.readAllBytes(qemuImage), Files.readAllBytes(ourImage), "image contents");
    }

    private static void assertSameOutput(Output qemu, IoRun ours) {
        assertTrue(qemu.out().lines().count() > 5, "qemu-io printed almost nothing: " + qemu.out() + qemu.err());
        assertEquals(IoRun.filterTiming(qemu.out()), IoRun.filterTiming(ours.out()), "standard output");
        List<String> ourErr = new ArrayList<>(ours.errLines());
        if (!ourErr.isEmpty() && ourErr.getLast().matches("blockloop: io: \\d+ of \\d+ commands? failed")) {
            ourErr.removeLast();
        }
        assertEquals(qemu.err().lines().toList(), ourErr, "standard error");
        assertEquals(qemu.exit(), ours.exit(), "exit status");
    }

    private static String[] arguments(List<String> options, List<String> script, String file) {
        List<String> args = new ArrayList<>(options);
        for (String command : script) {
            args.add("-c");
            args.add(command);
        }
        args.add(file);
        return args.toArray(String[]::new);
    }

    private record Output(int exit, String out, String err) {
    }

    private Output qemuIo(List<String> options, List<String> script, String file) throws Exception {
        List<String> command = new ArrayList<>();
        command.add(qemuIoPath());
        command.addAll(List.of(arguments(options, script, file)));
        Path out = dir.resolve("qemu-io.out");
        Path err = dir.resolve("qemu-io.err");
        Process p = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(err.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            fail("qemu-io did not finish within 60 s");
        }
        return new Output(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
                Files.readString(err, StandardCharsets.UTF_8));
    }

    /** qemu-io on PATH: required (bin/run-tests installs qemu-utils). */
    private static String qemuIoPath() {
        for (String d : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            Path candidate = Path.of(d.isEmpty() ? "." : d, "qemu-io");
            if (Files.isExecutable(candidate)) {
                return candidate.toString();
            }
        }
        for (String d : List.of("/usr/bin", "/usr/local/bin")) {
            Path candidate = Path.of(d, "qemu-io");
            if (Files.isExecutable(candidate)) {
                return candidate.toString();
            }
        }
        return fail("qemu-io is not installed: install Debian's qemu-utils (bin/run-tests does)");
    }
}
