package io.blockloop.cli.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.blockloop.aio.PollParams;
import io.blockloop.block.Warnings;
import io.blockloop.cli.CommandFailure;
import io.blockloop.ffm.libc.CpuAffinity;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.function.Consumer;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code blockloop bench} end to end: small runs on temporary files for each engine, and on the null driver. */
class BenchCommandTest {
    @TempDir
    Path dir;

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();

    private void bench(String... args) throws CommandFailure {
        new BenchCommand(new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8), dir).run(List.of(args));
    }

    private JsonNode benchJson(String... args) throws Exception {
        List<String> all = new ArrayList<>(List.of(args));
        all.addFirst("--json");
        bench(all.toArray(String[]::new));
        String text = out.toString(StandardCharsets.UTF_8);
        assertEquals(1, text.lines().count(), "one JSON object, one line: " + text);
        return new ObjectMapper().readTree(text);
    }

    private Path image(String name, long size) throws IOException {
        Path p = dir.resolve(name);
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.setLength(size);
        }
        return p;
    }

    @ParameterizedTest
    @ValueSource(strings = {"io_uring", "native", "threads"})
    void readsOnEachEngineCompleteExactlyCountRequests(String engine) throws Exception {
        Path img = image("disk.img", 8 << 20);
        JsonNode json = benchJson("-c", "3000", "-d", "8", "--warmup", "100", "-i", engine, img.toString());
        assertEquals(3000, json.get("completed").asLong(), json.toString());
        assertEquals(3000, json.get("latency_samples").asLong(), json.toString());
        assertEquals(100, json.get("warmup_requests").asLong());
        assertEquals(engine, json.get("engine").asText());
        assertTrue(json.get("direct").asBoolean());
        assertEquals(engine.equals("io_uring"), json.get("registered_buffers").asBoolean(),
                "as qemu-img bench, the buffers are registered; only io_uring takes them");
        assertEquals("read", json.get("operation").asText());
        assertTrue(json.get("iops").asDouble() > 0);
        assertEquals(json.get("iops").asDouble() * 4096 / (1 << 20), json.get("mib_per_second").asDouble(), 1e-6);
        assertEquals(3000 / json.get("seconds").asDouble(), json.get("iops").asDouble(),
                1e-6 * json.get("iops").asDouble());
        JsonNode latency = json.get("latency_us");
        assertTrue(latency.get("min").asDouble() <= latency.get("p50").asDouble());
        assertTrue(latency.get("p50").asDouble() <= latency.get("p99").asDouble());
        assertTrue(latency.get("p99").asDouble() <= latency.get("p99_9").asDouble());
        assertTrue(latency.get("p99_9").asDouble() <= latency.get("max").asDouble());
        assertTrue(json.get("cpu_seconds").asDouble() >= 0);
        assertTrue(json.get("allocated_bytes").asLong() >= 0);
        assertEquals(json.get("allocated_bytes").asDouble() / 3000, json.get("allocated_bytes_per_request").asDouble(),
                1e-9);
        assertFalse(json.get("default_target").asBoolean());
    }

    @ParameterizedTest
    @ValueSource(strings = {"io_uring", "native", "threads"})
    void writesFillTheImageWithThePattern(String engine) throws Exception {
        Path img = image("disk.img", 1 << 20);
        // 255 sequential 4 KiB writes cover the first 255 of 256 blocks once each (qemu wraps before the last one).
        JsonNode json = benchJson("-w", "-c", "255", "-d", "4", "--warmup=0", "--pattern=0xa5", "-i", engine,
                img.toString());
        assertEquals(255, json.get("completed").asLong());
        assertEquals("write", json.get("operation").asText());
        byte[] data = Files.readAllBytes(img);
        for (int i = 0; i < 255 * 4096; i++) {
            if (data[i] != (byte) 0xa5) {
                throw new AssertionError("byte " + i + " is " + data[i]);
            }
        }
        assertEquals(0, data[255 * 4096], "the last block is never written");
    }

    @Test
    void noRegisterBuffersKeepsIoUringOnItsNormalPathWithTheSameData() throws Exception {
        Path img = image("disk.img", 1 << 20);
        JsonNode json = benchJson("-w", "-c", "255", "-d", "4", "--warmup=0", "--pattern=0x3c", "-i", "io_uring",
                "--no-register-buffers", img.toString());
        assertFalse(json.get("registered_buffers").asBoolean());
        assertEquals(255, json.get("completed").asLong());
        byte[] data = Files.readAllBytes(img);
        for (int i = 0; i < 255 * 4096; i++) {
            if (data[i] != (byte) 0x3c) {
                throw new AssertionError("byte " + i + " is " + data[i]);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"1", "32"})
    void nullDriverCountsAddUp(String depth) throws Exception {
        JsonNode json = benchJson("-f", "null", "-c", "50000", "-d", depth, "--warmup", "1000", "1G");
        assertEquals(50000, json.get("completed").asLong());
        assertEquals(50000, json.get("latency_samples").asLong());
        assertEquals("none", json.get("engine").asText());
        assertEquals(1L << 30, json.get("image_size").asLong());
        assertEquals("null", json.get("format").asText());
        assertEquals("1G", json.get("target").asText());
    }

    @Test
    void defaultWarmupRunsUntilTheJitIsQuietWithinItsBounds() throws Exception {
        JsonNode json = benchJson("-f", "null", "-c", "1000", "-d", "1");
        long requests = json.get("warmup_requests").asLong();
        long atRunDepth = json.get("warmup_requests_at_run_depth").asLong();
        assertTrue(atRunDepth > 0 && atRunDepth < requests, "the warm-up ends at the run's depth 1: " + json);
        double seconds = json.get("warmup_seconds").asDouble();
        assertTrue(seconds >= (Warmup.MIN_NS + Warmup.QUIET_NS) / 1e9
                && seconds < (Warmup.MAX_NS + Warmup.MAX_OWN_DEPTH_NS) / 1e9 + 1, "warm-up took " + seconds);
        assertEquals(1000, json.get("completed").asLong(), "the measured run is COUNT requests, whatever the warm-up");
        out.reset();
        JsonNode deep = benchJson("-f", "null", "-c", "1000", "-d", "32");
        assertEquals(deep.get("warmup_requests").asLong(), deep.get("warmup_requests_at_run_depth").asLong(),
                "at depth 32 the whole warm-up runs at the run's depth: " + deep);
        BenchOptions o = BenchOptions.parse(List.of("-d", "4"));
        assertEquals(Warmup.DEPTH, Warmup.slots(o), "the default warm-up runs at depth 32 at least");
        assertEquals(4, Warmup.slots(BenchOptions.parse(List.of("-d", "4", "--warmup", "10"))));
        assertEquals(64, Warmup.slots(BenchOptions.parse(List.of())));
    }

    @Test
    void loopCpuPinsTheLoopThreadForTheRunAndGivesItsCpusBack() throws Exception {
        BitSet allowed = CpuAffinity.currentThreadCpus();
        int cpu = allowed.length() - 1; // the highest CPU this thread may use
        JsonNode json = benchJson("-f", "null", "-c", "1000", "--warmup", "0", "--loop-cpu", String.valueOf(cpu));
        assertEquals(cpu, json.get("loop_cpu").asInt(), json.toString());
        assertEquals(allowed, CpuAffinity.currentThreadCpus(), "the thread's CPUs are given back after the run");
        out.reset();
        assertTrue(benchJson("-f", "null", "-c", "10", "--warmup", "0").get("loop_cpu").isNull(), "not pinned by default");
    }

    @Test
    void theLoopPollsAsAnIoThreadByDefaultAndNotWithZero() throws Exception {
        Path img = image("disk.img", 4 << 20);
        JsonNode json = benchJson("--random", "-d", "1", "-c", "200", "--warmup", "0", img.toString());
        assertEquals(PollParams.ioThreadDefault().maxNs(), json.get("poll_max_ns").asLong(), json.toString());
        JsonNode polling = json.get("polling");
        long windows = polling.get("windows").asLong();
        long probes = polling.get("probes").asLong();
        assertTrue(polling.get("windows_found_work").asLong() <= windows && probes <= windows
                && polling.get("probes_found_work").asLong() <= probes, polling.toString());
        assertEquals(windows == 0, polling.get("spin_seconds").asDouble() == 0, polling.toString());
        out.reset();
        json = benchJson("--random", "-d", "1", "-c", "200", "--warmup", "0", "--poll-max-ns", "0", img.toString());
        assertEquals(0, json.get("poll_max_ns").asLong());
        assertEquals(0, json.get("polling").get("windows").asLong(), "spun without polling: " + json);
        assertEquals(0.0, json.get("polling").get("spin_seconds").asDouble());
        out.reset();
        bench("-f", "null", "-c", "10", "--warmup", "0", "--poll-max-ns", "0", "--loop-cpu", "current");
        assertTrue(out.toString(StandardCharsets.UTF_8).lines()
                .anyMatch(l -> l.matches("loop: +no busy polling, thread pinned to CPU [0-9]+")), out.toString());
    }

    @Test
    void aLoopCpuTheThreadMayNotUseIsARuntimeFailureThatNamesTheUsableOnes() {
        BitSet allowed = CpuAffinity.currentThreadCpus();
        CommandFailure f = assertThrows(CommandFailure.class,
                () -> bench("-f", "null", "-c", "10", "--warmup", "0", "--loop-cpu", "1023"));
        assertEquals(CommandFailure.RUNTIME, f.exitStatus());
        assertEquals("bench: cannot pin the main loop's thread to CPU 1023 (it may run on CPUs " + allowed
                + "): sched_setaffinity({1023}): EINVAL (Invalid argument)", f.getMessage());
        assertEquals(allowed, CpuAffinity.currentThreadCpus());
    }

    @Test
    void nullDriverWithoutSizeIsOneGiB() throws Exception {
        JsonNode json = benchJson("-f", "null", "-c", "10", "--warmup", "0");
        assertEquals(1L << 30, json.get("image_size").asLong());
    }

    @Test
    void randomRunStaysInsideASmallImage() throws Exception {
        // 4 blocks: any offset past the end would fail the run with EIO.
        Path img = image("small.img", 4 * 4096);
        JsonNode json = benchJson("--random", "--seed", "3", "-c", "2000", "-d", "4", "-o", "4096", "--warmup", "0",
                img.toString());
        assertEquals(2000, json.get("completed").asLong());
        assertEquals(3 * 4096, json.get("highest_offset").asLong());
        assertEquals(3, json.get("seed").asLong());
    }

    @Test
    void textOutputHasQemuImgLinesAndTheMeasurements() throws Exception {
        Path img = image("disk.img", 4 << 20);
        bench("-c", "500", "-d", "2", "-s", "8k", "-S", "16k", "-o", "4096", "--warmup", "10", img.toString());
        List<String> lines = out.toString(StandardCharsets.UTF_8).lines().toList();
        assertTrue(lines.get(0).matches("Warm-up: 10 requests in [0-9.]+ seconds \\(not measured\\)"), lines.get(0));
        // A read warm-up walks on (10 requests of the 16 KiB walk from 4096): the line says where the run starts.
        assertEquals("Sending 500 read requests, 8192 bytes each, 2 in parallel (starting at offset 167936, step size 16384)",
                lines.get(1));
        assertTrue(lines.get(2).matches("Run completed in [0-9]+\\.[0-9]{3} seconds\\."), lines.get(2));
        assertTrue(lines.get(3).matches("IOPS: +[0-9]+ \\([0-9.]+ MiB/s\\)"), lines.get(3));
        assertTrue(lines.get(4).matches("latency: +p50 [0-9.]+ us, p99 [0-9.]+ us, p99\\.9 [0-9.]+ us .*"), lines.get(4));
        assertTrue(lines.get(5).startsWith("CPU: "), lines.get(5));
        assertTrue(lines.get(6).matches("engine: +(io_uring \\(cache=none, O_DIRECT, registered buffers\\)"
                + "|(native|threads) \\(cache=none, O_DIRECT\\)), fd monitor \\S+"), lines.get(6));
        long poll = PollParams.ioThreadDefault().maxNs();
        assertEquals(poll == 0 ? "loop:       no busy polling"
                : "loop:       adaptive busy polling up to " + poll + " ns per wait", lines.get(7));
        int next = 8;
        if (poll != 0) {
            assertTrue(lines.get(next).matches("polling: +[0-9]+ windows spun, [0-9]+ found work; [0-9.]+ s spinning"
                    + " \\([0-9]+ % of the main thread's CPU\\); [0-9]+ probes of closed windows, [0-9]+ found work"),
                    lines.get(next));
            next++;
        }
        assertTrue(lines.get(next).matches("allocated: +[0-9.]+ bytes per request .*"), lines.get(next));
        assertEquals(next + 1, lines.size());
        assertEquals("", err.toString(StandardCharsets.UTF_8));
    }

    /**
     * {@code -q} drops the block layer's warnings while the command runs and gives the sink back afterwards. That
     * the fallback warning really is dropped shows only where an engine falls back: the container test with
     * io_uring blocked ({@code BlockloopInContainerTest}).
     */
    @Test
    void quietGivesTheWarningSinkBackAndStillPrintsTheResults() throws Exception {
        List<String> warned = new ArrayList<>();
        Consumer<String> before = Warnings.redirect(warned::add);
        try {
            bench("-q", "-f", "null", "-c", "10", "--warmup", "0");
            assertTrue(out.toString(StandardCharsets.UTF_8).lines().anyMatch(l -> l.startsWith("IOPS:")),
                    out.toString());
            Warnings.emit("after the run");
            assertEquals(List.of("after the run"), warned, "the sink was not given back");
        } finally {
            Warnings.redirect(before);
        }
    }

    @Test
    void flushIntervalFlushesAfterEveryNWritesAndReportsTheFlushes() throws Exception {
        Path img = image("flushed.img", 4 << 20);
        JsonNode json = benchJson("-w", "-d", "4", "-c", "100", "--flush-interval", "8", "--warmup", "0",
                img.toString());
        assertEquals(8, json.get("flush_interval").asInt());
        assertTrue(json.get("drain_on_flush").asBoolean());
        assertEquals(12, json.get("flushes").asLong(), "one flush after every 8 of 100 writes");
        JsonNode flushLatency = json.get("flush_latency_us");
        assertTrue(flushLatency.get("p50").asDouble() > 0 && flushLatency.get("max").asDouble()
                >= flushLatency.get("p50").asDouble(), flushLatency.toString());
        out.reset();
        bench("-w", "-d", "4", "-c", "100", "--flush-interval", "8", "--no-drain", "--warmup", "0", img.toString());
        List<String> lines = out.toString(StandardCharsets.UTF_8).lines().toList();
        assertEquals("Sending flush every 8 requests (without draining the writes in flight)", lines.get(1),
                "qemu-img bench's second line");
        assertTrue(lines.stream().anyMatch(l -> l.matches("flushes: +12, p50 [0-9.]+ us, p99 [0-9.]+ us .*")),
                lines.toString());
        out.reset();
        bench("-w", "-d", "4", "-c", "7", "--flush-interval", "8", "--warmup", "0", img.toString());
        assertTrue(out.toString(StandardCharsets.UTF_8).lines()
                .anyMatch(l -> l.equals("flushes:    0 (fewer writes than the flush interval)")), out.toString());
        out.reset();
        JsonNode read = benchJson("-c", "10", "--warmup", "0", img.toString());
        assertEquals(0, read.get("flushes").asLong());
        assertFalse(read.has("flush_latency_us"), read.toString());
    }

    /**
     * A write benchmark changes exactly the blocks of its COUNT requests, whatever its warm-up does (the default
     * warm-up wrote for seconds and wrapped below -o: a run of -c 16 rewrote the whole image), and starts where the
     * first line says.
     */
    @Test
    void aWriteBenchmarkWritesOnlyItsOwnBlocksWarmUpIncluded() throws Exception {
        assertWritesOnlyItsOwnBlocks("--warmup", "2000");
    }

    @Test
    void aWriteBenchmarkWritesOnlyItsOwnBlocksDefaultWarmUpIncluded() throws Exception {
        assertWritesOnlyItsOwnBlocks(); // its two stages: at depth 32, then at the run's depth 1
    }

    private void assertWritesOnlyItsOwnBlocks(String... warmup) throws Exception {
        Path img = image("w.img", 1 << 20);
        List<String> args = new ArrayList<>(List.of("-w", "-c", "16", "-d", "1", "-s", "4096", "-S", "8192", "-o",
                "32768", "--pattern", "171"));
        args.addAll(List.of(warmup));
        args.add(img.toString());
        bench(args.toArray(String[]::new));
        assertTrue(out.toString(StandardCharsets.UTF_8).contains("(starting at offset 32768, step size 8192)"),
                out.toString(StandardCharsets.UTF_8));
        byte[] data = java.nio.file.Files.readAllBytes(img);
        for (int block = 0; block < data.length / 4096; block++) {
            long at = block * 4096L;
            boolean ours = at >= 32768 && at < 32768 + 16 * 8192 && (at - 32768) % 8192 == 0;
            for (int i = 0; i < 4096; i++) {
                assertEquals(ours ? (byte) 171 : 0, data[(int) at + i], "byte " + i + " of the block at " + at);
            }
        }
    }

    /** Buffers that cannot be allocated are one line, not a stack trace; the default warm-up adds at most 64 MiB. */
    @Test
    void buffersThatCannotBeAllocatedAreOneLine() throws Exception {
        CommandFailure f = assertThrows(CommandFailure.class,
                () -> bench("-f", "null", "-c", "100000", "-d", "100000", "-s", "1G", "--warmup", "0"));
        assertEquals(CommandFailure.RUNTIME, f.exitStatus());
        assertTrue(f.getMessage().startsWith("bench: cannot allocate 100000 buffers of 1073741824 bytes"),
                f.getMessage());
        assertEquals(1, Warmup.slots(BenchOptions.parse(List.of("-s", "1G", "-c", "1", "-d", "1"))));
        assertEquals(32, Warmup.slots(BenchOptions.parse(List.of("-s", "1M", "-c", "100", "-d", "1"))));
        assertEquals(16, Warmup.slots(BenchOptions.parse(List.of("-s", "4M", "-c", "100", "-d", "1"))));
    }

    @Test
    void defaultTargetIsUsedNamedAndRemoved() throws Exception {
        JsonNode json = benchJson("-c", "2000", "-d", "16", "--warmup", "0");
        assertTrue(json.get("default_target").asBoolean());
        assertEquals(1L << 30, json.get("image_size").asLong());
        assertTrue(json.get("target").asText().startsWith("/proc/self/fd/"), json.toString()); // unnamed: O_TMPFILE
        assertTrue(json.get("direct").asBoolean());
        assertEquals(2000, json.get("completed").asLong());
        assertNoImageLeft();

        out.reset();
        bench("-c", "10", "--warmup", "0");
        String first = out.toString(StandardCharsets.UTF_8).lines().findFirst().orElseThrow();
        assertEquals("Default target: an unnamed file in " + dir + " (1 GiB, preallocated, removed when the run ends)",
                first);
        assertNoImageLeft();
    }

    /**
     * The default target never has a name (O_TMPFILE), so no kill can leave it behind: while it exists the
     * directory stays empty. Where the file system cannot make unnamed files, a named one is removed by remove().
     */
    @Test
    void defaultTargetIsUnnamedAndTheNamedFallbackIsRemoved() throws Exception {
        DefaultTarget unnamed = DefaultTarget.create(dir);
        try {
            assertEquals(1L << 30, Files.size(unnamed.path()), unnamed.path().toString());
            try (Stream<Path> files = Files.list(dir)) {
                assertEquals(List.of(), files.toList());
            }
        } finally {
            unnamed.remove();
        }
        DefaultTarget named = DefaultTarget.createNamed(dir);
        assertTrue(named.path().getFileName().toString().matches("blockloop-bench-[0-9]+\\.img"), named.path().toString());
        assertEquals(1L << 30, Files.size(named.path()));
        named.remove();
        assertNoImageLeft();
    }

    /** A directory that cannot hold the default target: the line says why, in both ways of creating it. */
    @Test
    void aDefaultTargetThatCannotBeCreatedSaysWhy() {
        Path missing = dir.resolve("missing");
        CommandFailure unnamed = assertThrows(CommandFailure.class, () -> DefaultTarget.create(missing));
        assertEquals(CommandFailure.RUNTIME, unnamed.exitStatus());
        assertEquals("bench: cannot create the 1 GiB default target in " + missing + ": No such file or directory "
                + "(give a FILE to run on)", unnamed.getMessage());
        CommandFailure named = assertThrows(CommandFailure.class, () -> DefaultTarget.createNamed(missing));
        assertEquals("bench: cannot create the default target in " + missing + ": No such file or directory",
                named.getMessage());
        Path file = dir.resolve("file");
        assertDoesNotThrow(() -> Files.write(file, new byte[1]));
        CommandFailure notDir = assertThrows(CommandFailure.class, () -> DefaultTarget.create(file));
        assertTrue(notDir.getMessage().endsWith(": Not a directory (give a FILE to run on)"), notDir.getMessage());
        assertNoImageLeft();
    }

    /** The default target goes to $TMPDIR when it is set (it went to java.io.tmpdir, /tmp, whatever TMPDIR said). */
    @Test
    void theTemporaryDirectoryIsTmpdirWhenSet() {
        assertEquals(Path.of("/var/tmp/x"), BenchCommand.temporaryDirectory("/var/tmp/x"));
        Path jvm = Path.of(System.getProperty("java.io.tmpdir"));
        assertEquals(jvm, BenchCommand.temporaryDirectory(null));
        assertEquals(jvm, BenchCommand.temporaryDirectory(" "));
    }

    @Test
    void defaultTargetIsRemovedWhenTheRunFails() {
        CommandFailure f = assertThrows(CommandFailure.class, () -> bench("-o", "2G", "-c", "10"));
        assertEquals(CommandFailure.RUNTIME, f.exitStatus());
        assertTrue(f.getMessage().contains("is past the end of"), f.getMessage());
        assertNoImageLeft();
    }

    @Test
    void offsetPastTheEndIsARuntimeErrorWithTheSizes() throws Exception {
        Path img = image("disk.img", 1 << 20);
        CommandFailure f = assertThrows(CommandFailure.class, () -> bench("-o", "1M", img.toString()));
        assertEquals(CommandFailure.RUNTIME, f.exitStatus());
        assertEquals("bench: a 4096-byte request at offset 1048576 is past the end of '" + img + "' (1048576 bytes)",
                f.getMessage());
    }

    @Test
    void missingFileIsOneLineExitOne() {
        CommandFailure f = assertThrows(CommandFailure.class, () -> bench(dir.resolve("missing.img").toString()));
        assertEquals(CommandFailure.RUNTIME, f.exitStatus());
        assertEquals("Could not open '" + dir.resolve("missing.img") + "': No such file or directory", f.getMessage());
    }

    @Test
    void directoryIsNotBlamedOnODirect() {
        // open(dir, O_DIRECT) fails with EINVAL, the errno of a filesystem that refuses O_DIRECT.
        CommandFailure f = assertThrows(CommandFailure.class, () -> bench(dir.toString()));
        assertEquals(CommandFailure.RUNTIME, f.exitStatus());
        assertEquals("Could not open '" + dir + "': '" + dir + "' is neither a regular file nor a block device",
                f.getMessage());
    }

    @Test
    void helpPrintsUsage() throws Exception {
        bench("--help");
        assertTrue(out.toString(StandardCharsets.UTF_8).startsWith("usage: blockloop bench"));
    }

    private void assertNoImageLeft() {
        try (Stream<Path> files = Files.list(dir)) {
            List<Path> left = files.filter(p -> p.getFileName().toString().startsWith("blockloop-bench-")).toList();
            assertEquals(List.of(), left, "default target left behind");
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }
}
