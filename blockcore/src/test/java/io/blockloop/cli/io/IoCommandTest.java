package io.blockloop.cli.io;

import io.blockloop.ffm.testing.Commands;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.List;

import static io.blockloop.cli.io.IoRun.io;
import static io.blockloop.cli.io.IoRun.stats;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code blockloop io} against image files and the null device: qemu-io's output lines for each command, the
 * data they leave on disk (checked through java.io), pattern failures, I/O errors, and bad input.
 */
class IoCommandTest {
    private static final long SIZE = 1L << 20;

    private Path dir;
    private Path img;

    @BeforeEach
    void setUp() throws IOException {
        dir = IoRun.imageDir();
        img = IoRun.image(dir, "t.raw", SIZE);
    }

    @AfterEach
    void tearDown() throws IOException {
        IoRun.deleteTree(dir);
    }

    private static byte[] filled(int length, int value) {
        byte[] b = new byte[length];
        Arrays.fill(b, (byte) value);
        return b;
    }

    @ParameterizedTest(name = "cache={0}")
    @ValueSource(strings = {"writeback", "none"})
    void writeThenReadPrintQemuIoLinesAndLeaveThePatternOnDisk(String cache) throws IOException {
        IoRun r = io("-t", cache, "-c", "write -P 0xa 0 64k", "-c", "read -P 0xa 0 64k", "-c", "write 64k 512",
                img.toString());
        assertEquals(0, r.exit(), r.err());
        assertEquals(List.of(
                "wrote 65536/65536 bytes at offset 0", stats("64 KiB"),
                "read 65536/65536 bytes at offset 0", stats("64 KiB"),
                "wrote 512/512 bytes at offset 65536", stats("512 bytes")), r.lines());
        assertArrayEquals(filled(65536, 0x0a), IoRun.bytes(img, 0, 65536));
        assertArrayEquals(filled(512, 0xcd), IoRun.bytes(img, 65536, 512), "default write pattern is 0xcd");
        assertEquals("", r.err());
    }

    @Test
    void statisticsLineHasQemuIosUnfilteredShape() {
        IoRun r = io("-c", "write 0 4k", "-c", "read 0 1", img.toString());
        List<String> lines = r.out().lines().toList();
        assertEquals(4, lines.size(), r.out());
        // qemu-io 7.2: "%05.2f sec" under a second; sizes via cvtstr (".000" dropped: "32 MiB/sec" when the rate is
        // a whole number); ops/sec with four decimals
        assertTrue(lines.get(1).matches("4 KiB, 1 ops; \\d\\d\\.\\d\\d sec \\(\\d+(\\.\\d{3})? (KiB|MiB|GiB)/sec and \\d+\\.\\d{4} ops/sec\\)"
                + "|4 KiB, 1 ops; \\d+:\\d\\d:\\d\\d\\.\\d\\d \\(.*\\)"), lines.get(1));
        assertTrue(lines.get(3).matches("1 bytes, 1 ops; \\d\\d\\.\\d\\d sec \\(\\d+(\\.\\d{6} bytes|\\.\\d{3} KiB| bytes| KiB)/sec and \\d+\\.\\d{4} ops/sec\\)"),
                lines.get(3));
    }

    @Test
    void csvReportWithDashC() {
        IoRun r = io("-c", "write -C 0 512", "-c", "read -C 0 512", img.toString());
        assertEquals(0, r.exit(), r.err());
        for (String line : r.out().lines().toList()) {
            assertTrue(line.matches("512,1,\\d+:\\d\\d:\\d\\d\\.\\d\\d,\\d+\\.\\d{3},\\d+\\.\\d{3}"), line);
        }
    }

    @Test
    void writevAndReadvUseOneSegmentPerLength() throws IOException {
        IoRun r = io("-c", "writev -P 3 512 1k 512 2k", "-c", "readv -P 3 512 3k 512", "-c", "read -P 3 512 3584",
                img.toString());
        assertEquals(0, r.exit(), r.err());
        assertEquals(List.of(
                "wrote 3584/3584 bytes at offset 512", stats("3.500 KiB"),
                "read 3584/3584 bytes at offset 512", stats("3.500 KiB"),
                "read 3584/3584 bytes at offset 512", stats("3.500 KiB")), r.lines());
        assertArrayEquals(filled(3584, 3), IoRun.bytes(img, 512, 3584));
        assertArrayEquals(filled(512, 0), IoRun.bytes(img, 0, 512));
    }

    @Test
    void unalignedVectorsWithDirectIo() throws IOException {
        IoRun r = io("-n", "-m", "-c", "writev -P 9 100 1 2 600", "-c", "readv -P 9 100 603", "-c", "read -P 0 0 100",
                img.toString());
        assertEquals(0, r.exit(), r.out() + r.err());
        assertArrayEquals(filled(603, 9), IoRun.bytes(img, 100, 603));
    }

    @Test
    void aioWriteThenAioFlushThenReadWithPattern() throws IOException {
        IoRun r = io("-c", "aio_write -P 0xb 64k 4k", "-c", "aio_flush", "-c", "read -P 0xb 64k 4k",
                "-c", "aio_read -P 0xb 64k 2k 2k", "-c", "aio_flush", img.toString());
        assertEquals(0, r.exit(), r.err());
        assertEquals(List.of(
                "wrote 4096/4096 bytes at offset 65536", stats("4 KiB"),
                "read 4096/4096 bytes at offset 65536", stats("4 KiB"),
                "read 4096/4096 bytes at offset 65536", stats("4 KiB")), r.lines());
        assertArrayEquals(filled(4096, 0x0b), IoRun.bytes(img, 65536, 4096));
    }

    @Test
    void outstandingAioIsCompletedAndReportedAtTheEnd() throws IOException {
        IoRun r = io("-c", "aio_write -P 0x21 0 8k", img.toString());
        assertEquals(0, r.exit(), r.err());
        assertEquals(List.of("wrote 8192/8192 bytes at offset 0", stats("8 KiB")), r.lines());
        assertArrayEquals(filled(8192, 0x21), IoRun.bytes(img, 0, 8192));
    }

    @Test
    void discardThenReadsBackZeroes() {
        IoRun r = io("-c", "write -P 5 0 64k", "-c", "discard 0 64k", "-c", "read -P 0 0 64k", img.toString());
        assertEquals(0, r.exit(), r.out() + r.err());
        assertEquals(List.of(
                "wrote 65536/65536 bytes at offset 0", stats("64 KiB"),
                "discard 65536/65536 bytes at offset 0", stats("64 KiB"),
                "read 65536/65536 bytes at offset 0", stats("64 KiB")), r.lines());
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"write -z 0 64k", "write -z -u 0 64k", "aio_write -z 0 64k"})
    void writeZeroesThenReadsBackZeroes(String zeroWrite) throws IOException {
        IoRun r = io("-c", "write -P 5 0 128k", "-c", zeroWrite, "-c", "aio_flush", "-c", "read -P 0 0 64k",
                "-c", "read -P 5 64k 64k", img.toString());
        assertEquals(0, r.exit(), r.out() + r.err());
        assertEquals(List.of(
                "wrote 131072/131072 bytes at offset 0", stats("128 KiB"),
                "wrote 65536/65536 bytes at offset 0", stats("64 KiB"),
                "read 65536/65536 bytes at offset 0", stats("64 KiB"),
                "read 65536/65536 bytes at offset 65536", stats("64 KiB")), r.lines());
        assertArrayEquals(filled(65536, 0), IoRun.bytes(img, 0, 65536));
    }

    @Test
    void patternMismatchPrintsQemusMessageAndExitsOne() {
        IoRun r = io("-c", "write -P 1 0 512", "-c", "read -P 2 0 512", "-c", "read -P 2 -s 100 -l 10 0 512",
                "-c", "read -P 1 -s 100 -l 10 0 512", img.toString());
        assertEquals(1, r.exit());
        assertEquals(List.of(
                "wrote 512/512 bytes at offset 0", stats("512 bytes"),
                "Pattern verification failed at offset 0, 512 bytes",
                "read 512/512 bytes at offset 0", stats("512 bytes"),
                "Pattern verification failed at offset 100, 10 bytes",
                "read 512/512 bytes at offset 0", stats("512 bytes"),
                "read 512/512 bytes at offset 0", stats("512 bytes")), r.lines());
        assertEquals(List.of("blockloop: io: 2 of 4 commands failed"), r.errLines());
    }

    @Test
    void patternMismatchOfVectoredAndAsyncReads() {
        IoRun r = io("-c", "readv -q -P 7 0 512 512", "-c", "aio_read -q -P 7 4k 1k", "-c", "aio_flush",
                img.toString());
        assertEquals(1, r.exit());
        assertEquals(List.of("Pattern verification failed at offset 0, 1024 bytes",
                "Pattern verification failed at offset 4096, 1024 bytes"), r.lines());
    }

    @Test
    void hexDumpEndsWithAPartialLine() {
        IoRun r = io("-c", "write -P 0x41 0 3", "-c", "read -v 0 20", img.toString());
        assertEquals(List.of("wrote 3/3 bytes at offset 0", stats("3 bytes"),
                "00000000:  41 41 41 00 00 00 00 00 00 00 00 00 00 00 00 00  AAA.............",
                "00000010:  00 00 00 00  ....",
                "read 20/20 bytes at offset 0", stats("20 bytes")), r.lines());
    }

    @Test
    void hexDumpShowsImageOffsets() {
        IoRun r = io("-c", "write -P 0x7a 0x10 16", "-c", "read -v -q 0 1", "-c", "read -v 0x18 17", img.toString());
        assertEquals(0, r.exit(), r.err());
        assertEquals(List.of("wrote 16/16 bytes at offset 16", stats("16 bytes"),
                "00000018:  7a 7a 7a 7a 7a 7a 7a 7a 00 00 00 00 00 00 00 00  zzzzzzzz........",
                "00000028:  00  .",
                "read 17/17 bytes at offset 24", stats("17 bytes")), r.lines());
    }

    @Test
    void pastEndRequestsFailWithQemusMessages() {
        IoRun r = io("-c", "read 1M 512", "-c", "write 1048000 1024", "-c", "readv 1M 512", "-c", "writev 1M 1",
                "-c", "discard 1M 1", "-c", "write -z 1M 1", "-c", "aio_read 1M 512", "-c", "aio_flush",
                "-c", "aio_write 1M 512", "-c", "aio_flush", "-c", "length", img.toString());
        assertEquals(1, r.exit());
        assertEquals(List.of("read failed: Input/output error", "write failed: Input/output error",
                "readv failed: Input/output error", "writev failed: Input/output error",
                "discard failed: Input/output error", "write failed: Input/output error",
                "readv failed: Input/output error", "aio_write failed: Input/output error", "1 MiB"), r.lines());
        assertEquals(List.of("blockloop: io: 8 of 11 commands failed"), r.errLines());
    }

    @Test
    void lengthAndInfoForEachFormat() {
        IoRun raw = io("-c", "length", "-c", "info", "-c", "l", "-c", "i", img.toString());
        assertEquals(0, raw.exit(), raw.err());
        assertEquals(List.of("1 MiB", "format name: raw", "cluster size: 0 bytes", "vm state offset: 0 bytes",
                "1 MiB", "format name: raw", "cluster size: 0 bytes", "vm state offset: 0 bytes"), raw.lines());

        IoRun file = io("-f", "file", "-c", "info", "-c", "length", img.toString());
        assertEquals(0, file.exit(), file.err());
        assertEquals(List.of("format name: file", "format name: file", "cluster size: 0 bytes",
                "vm state offset: 0 bytes", "1 MiB"), file.lines());

        // As qemu-io: null-co has no driver info, so info stops after the names and fails.
        IoRun nul = io("-f", "null", "-c", "length", "-c", "info", "1536k");
        assertEquals(1, nul.exit());
        assertEquals(List.of("1.500 MiB", "format name: null-co", "format name: null-co"), nul.lines());
    }

    @Test
    void nullDeviceReadsZeroesAndAcceptsWrites() {
        IoRun r = io("-f", "null", "-c", "write -P 9 0 4k", "-c", "read -P 0 0 4k", "-c", "aio_write 4k 4k",
                "-c", "aio_read -P 0 4k 4k", "-c", "aio_flush", "-c", "read 1G 1", "1G");
        assertEquals(1, r.exit());
        assertEquals(List.of("wrote 4096/4096 bytes at offset 0", stats("4 KiB"),
                "read 4096/4096 bytes at offset 0", stats("4 KiB"),
                "wrote 4096/4096 bytes at offset 4096", stats("4 KiB"),
                "read 4096/4096 bytes at offset 4096", stats("4 KiB"),
                "read failed: Input/output error"), r.lines());
    }

    @Test
    void failedCommandsDoNotStopTheScript() throws IOException {
        IoRun r = io("-c", "bogus 1 2", "-c", "read abc 1", "-c", "write -P 0x33 0 512", img.toString());
        assertEquals(1, r.exit());
        assertEquals(List.of("Parsing error: non-numeric argument, or extraneous/unrecognized suffix -- abc",
                "wrote 512/512 bytes at offset 0", stats("512 bytes")), r.lines());
        assertEquals(List.of("command \"bogus\" not found", "blockloop: io: 2 of 3 commands failed"), r.errLines());
        assertArrayEquals(filled(512, 0x33), IoRun.bytes(img, 0, 512));
    }

    @Test
    void commandArgumentMistakesPrintQemusLinesAndExitOne() {
        assertCommandFails("read 0", List.of(), List.of("bad argument count 1 to read, expected at least 2 arguments"));
        assertCommandFails("flush 1", List.of(), List.of("bad argument count 1 to flush, expected 0 arguments"));
        assertCommandFails("read 0 5x", List.of("Parsing error: non-numeric argument, or extraneous/unrecognized suffix -- 5x"), List.of());
        assertCommandFails("read -- -1 1", List.of("Parsing error: non-numeric argument, or extraneous/unrecognized suffix -- -1"), List.of());
        assertCommandFails("read 18446744073709551616 1", List.of("Parsing error: argument too large -- 18446744073709551616"), List.of());
        assertCommandFails("read 0 3G", List.of("length cannot exceed 2147483136, given 3G"), List.of());
        assertCommandFails("write 0 3G", List.of("length cannot exceed 2147483136 without -n, given 3G"), List.of());
        assertCommandFails("readv 0 512 3G", List.of("Argument '3G' exceeds maximum size 2147483136"), List.of());
        assertCommandFails("read -P 300 0 1", List.of("300 is not a valid pattern byte"), List.of());
        assertCommandFails("read -P 0x 0 1", List.of("0x is not a valid pattern byte"), List.of());
        assertCommandFails("read -P 0 -s 600 0 512", List.of("pattern verification range exceeds end of read data"), List.of());
        assertCommandFails("write -u 0 1", List.of("-u requires -z to be specified"), List.of());
        assertCommandFails("write -n 0 1", List.of("-n requires -z to be specified"), List.of());
        assertCommandFails("write -z -P 1 0 1", List.of("Only one of -z, -P, and -s can be specified at the same time"), List.of());
        assertCommandFails("aio_write -z 0 1 2", List.of("-z supports only a single length parameter"), List.of());
        assertCommandFails("read -s 4 0 512", List.of(ReadCommand.SYNOPSIS.usageLine()), List.of());
        assertCommandFails("read -X 0 1", List.of(ReadCommand.SYNOPSIS.usageLine()), List.of("read: invalid option -- 'X'"));
        assertCommandFails("r 0 512 -P", List.of(ReadCommand.SYNOPSIS.usageLine()), List.of("r: option requires an argument -- 'P'"));
        assertCommandFails("discard 0 1 2", List.of(DiscardCommand.SYNOPSIS.usageLine()), List.of());
    }

    private void assertCommandFails(String command, List<String> out, List<String> err) {
        IoRun r = io("-c", command, img.toString());
        assertEquals(1, r.exit(), command);
        assertEquals(out, r.lines(), command);
        List<String> expectedErr = new java.util.ArrayList<>(err);
        expectedErr.add("blockloop: io: 1 of 1 command failed");
        assertEquals(expectedErr, r.errLines(), command);
    }

    @Test
    void optionsMayFollowOperandsAsWithGnuGetopt() {
        IoRun r = io("-c", "write 0 512 -q -P 0x44", "-c", "read 0 512 -P 0x44", img.toString());
        assertEquals(0, r.exit(), r.out() + r.err());
        assertEquals(List.of("read 512/512 bytes at offset 0", stats("512 bytes")), r.lines());
    }

    @Test
    void readOnlyImageRefusesWritingCommands() throws IOException {
        IoRun r = io("-r", "-c", "write 0 1", "-c", "discard 0 512", "-c", "aio_write 0 512", "-c", "read -P 0 0 1",
                "-c", "flush", img.toString());
        assertEquals(1, r.exit());
        assertEquals(List.of("read 1/1 bytes at offset 0", stats("1 bytes")), r.lines());
        assertEquals(List.of("blockloop: Block node is read-only", "blockloop: Block node is read-only",
                "blockloop: Block node is read-only", "blockloop: io: 3 of 5 commands failed"), r.errLines());
        assertArrayEquals(filled(512, 0), IoRun.bytes(img, 0, 512));
    }

    /**
     * Without -f, an image with another format's header is refused before anything is written: taken as raw, the
     * first write overwrote a qcow2 image's header, which qemu-io would have opened as qcow2. With -f raw its
     * bytes are used as they are.
     */
    @Test
    void anImageOfAnotherFormatIsRefusedUnlessRawIsAskedFor() throws IOException {
        byte[] qcow2Header = {'Q', 'F', 'I', (byte) 0xfb, 0, 0, 0, 3};
        Path qcow2 = IoRun.image(dir, "q.qcow2", 65536);
        Files.write(qcow2, qcow2Header, StandardOpenOption.WRITE);
        IoRun r = io("-c", "write -P 1 0 512", qcow2.toString());
        assertEquals(1, r.exit());
        assertEquals(List.of("blockloop: Could not open '" + qcow2 + "': it is a qcow2 image, and BlockLoop reads raw"
                + " images only; give -f raw to use its bytes as a raw image"), r.errLines());
        assertArrayEquals(qcow2Header, IoRun.bytes(qcow2, 0, qcow2Header.length), "the header was left as it was");
        IoRun raw = io("-f", "raw", "-c", "read -P 0x51 0 1", qcow2.toString());
        assertEquals(0, raw.exit(), raw.err());
    }

    @Test
    void missingFileIsOneLineAndExitOne() {
        IoRun r = io("-c", "read 0 1", dir.resolve("missing.raw").toString());
        assertEquals(1, r.exit());
        assertEquals(1, r.errLines().size(), r.err());
        assertEquals(List.of("blockloop: Could not open '" + dir.resolve("missing.raw") + "': No such file or "
                + "directory"), r.errLines(), "qemu-io's words, the path once");
        assertEquals("", r.out());
    }

    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD) // a read-only open of a FIFO would block
    void directoryAndFifoAreOneLineAndExitOne() throws Exception {
        Path fifo = dir.resolve("fifo");
        Commands.run("mkfifo", fifo.toString());
        for (Path p : List.of(dir, fifo)) {
            IoRun r = io("-r", "-c", "read 0 1", p.toString());
            assertEquals(1, r.exit(), r.err());
            assertEquals(List.of("blockloop: Could not open '" + p + "': '" + p
                    + "' is neither a regular file nor a block device"), r.errLines());
            assertEquals("", r.out());
        }
    }

    @Test
    void commandLineMistakesAreUsageFailures() {
        assertUsage(io("-X", "-c", "length", img.toString()), "blockloop: io: invalid option -- 'X'");
        assertUsage(io("--bogus", "-c", "length", img.toString()), "blockloop: io: unrecognized option '--bogus'");
        assertUsage(io(img.toString()), "blockloop: io: no command given");
        assertUsage(io("-c", "length"), "blockloop: io: no FILE given");
        assertUsage(io("-c", "length", img.toString(), img.toString()), "blockloop: io: one FILE only");
        assertUsage(io("-c"), "blockloop: io: option requires an argument -- 'c'");
        assertUsage(io("-t", "bogus", "-c", "length", img.toString()), "blockloop: io: invalid cache mode 'bogus'");
        assertUsage(io("-i", "bogus", "-c", "length", img.toString()), "blockloop: io: ");
        assertUsage(io("-f", "qcow2", "-c", "length", img.toString()), "blockloop: io: unknown format 'qcow2'");
        assertUsage(io("-f", "null", "-c", "length", "12x"), "blockloop: io: null device size: Parsing error: "
                + "non-numeric argument, or extraneous/unrecognized suffix -- 12x");
        assertUsage(io("-U", "-c", "length", img.toString()), "blockloop: io: -U (force-share) needs a read-only "
                + "image (-r)");
        assertUsage(io("-k", "-t", "writeback", "-c", "length", img.toString()), "blockloop: io: aio=native "
                + "requires cache=none or cache=directsync (O_DIRECT)");
    }

    private static void assertUsage(IoRun r, String errorStart) {
        assertEquals(2, r.exit(), r.err());
        assertEquals(1, r.errLines().size(), r.err());
        assertTrue(r.err().startsWith(errorStart), r.err());
        assertEquals("", r.out());
    }

    @Test
    void longOptionsAndHelp() {
        IoRun r = io("--format=raw", "--cache", "none", "--read-only", "--cmd=length", "--cmd", "help read",
                img.toString());
        assertEquals(0, r.exit(), r.err());
        assertEquals(List.of("1 MiB", ReadCommand.SYNOPSIS.helpLine()), r.lines());
        IoRun help = io("-c", "help", img.toString());
        assertTrue(help.lines().contains("aio_flush -- completes all outstanding aio requests"), help.out());
        assertTrue(help.lines().contains(WriteCommand.SYNOPSIS.helpLine()), help.out());
        assertEquals(0, io("-h").exit());
    }

    /** {@code -s} and {@code -l} whose sum overflows: qemu-io's message, and the script goes on. */
    @Test
    void aPatternRangeThatOverflowsIsRefusedAndTheScriptGoesOn() {
        IoRun r = io("-c", "read -P 0xff -s 1 -l 9223372036854775807 0 512", "-c", "length", img.toString());
        assertEquals(1, r.exit(), r.err());
        assertEquals(List.of("pattern verification range exceeds end of read data", "1 MiB"), r.lines());
    }

    /** Write-zeroes is not limited to one data request's 2 GiB - 512, as in qemu-io (it failed with EINVAL). */
    @Test
    void writeZeroesLongerThanTwoGigabytes() throws IOException {
        Path big = IoRun.image(dir, "big.raw", 4L << 30);
        java.nio.file.Files.write(big, filled(4096, 7), java.nio.file.StandardOpenOption.WRITE);
        IoRun r = io("-c", "write -z -n 0 3G", "-c", "aio_write -z 0 3G", "-c", "aio_flush", big.toString());
        assertEquals(0, r.exit(), r.err());
        assertEquals(List.of("wrote 3221225472/3221225472 bytes at offset 0", stats("3 GiB"),
                "wrote 3221225472/3221225472 bytes at offset 0", stats("3 GiB")), r.lines());
        assertArrayEquals(filled(4096, 0), IoRun.bytes(big, 0, 4096));
    }

    /**
     * {@code write -z -n} (no fallback) on a range with partial blocks under O_DIRECT: zeroing a partial block
     * means writing a buffer, the fallback ruled out, so it fails as in qemu-io and leaves the data (it zeroed it).
     */
    @Test
    void writeZeroesWithoutFallbackRefusesPartialBlocksAndLeavesTheData() throws IOException {
        IoRun r = io("-t", "none", "-c", "write -q -P 1 0 64k", "-c", "write -z -n 4096 5000", "-c",
                "read -q -P 1 4096 5000", img.toString());
        assertEquals(1, r.exit(), r.err());
        assertEquals(List.of("write failed: Operation not supported"), r.lines());
        assertArrayEquals(filled(65536, 1), IoRun.bytes(img, 0, 65536));
    }

    /** {@code -r} on the null device refuses writes, as on a file (it was ignored). */
    @Test
    void readOnlyNullDeviceRefusesWrites() {
        IoRun r = io("-f", "null", "-r", "-c", "write 0 1", "-c", "read 0 1", "1M");
        assertEquals(1, r.exit(), r.err());
        assertEquals(List.of("blockloop: Block node is read-only", "blockloop: io: 1 of 2 commands failed"),
                r.errLines());
    }
}
