package io.blockloop.it;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.dockerjava.api.model.Capability;
import com.github.dockerjava.api.model.Device;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.output.OutputFrame.OutputType;
import org.testcontainers.utility.DockerImageName;

/**
 * Runs {@code blockloop} inside a container built from the project's Dockerfile, over a loop device created on
 * the host, or over a real disk given with {@code -Dblockloop.it.scratchDevice} ({@link ScratchDevice}):
 * {@code probe --json} must match what the host's {@code blockdev} says about the device and find
 * io_uring usable; {@code io} writes patterns with O_DIRECT that the host then reads back from the same device;
 * {@code bench} runs with each engine and completes every request. In a container whose seccomp profile blocks
 * io_uring, every command says why and falls back.
 *
 * <p>The container gets the device with {@code --device}, {@code CAP_SYS_ADMIN} and {@code seccomp=unconfined}
 * (Docker's default profile blocks io_uring since 25.0); {@code --privileged} fails on the test machine, and a
 * privileged container would not see a loop device created after it started anyway. The fallback test replaces
 * {@code unconfined} with {@link #SECCOMP_WITHOUT_IO_URING}, so it does not depend on the Docker version installed.
 *
 * <p>Loop device, backing file and image are always cleaned up in {@link #cleanUp()}, also after failures. The
 * tests write below 4 MiB only, and never assume what the device held before.
 */
final class BlockloopInContainerTest {

    private static final long LOOP_DEVICE_BYTES = 64L << 20;
    private static final Duration PROBE_TIMEOUT = Duration.ofMinutes(2);

    /** Lets the container make every system call. */
    private static final String SECCOMP_UNCONFINED = "unconfined";

    /**
     * Fails the three io_uring system calls with {@code EPERM} (the errno Docker gives {@code SCMP_ACT_ERRNO}
     * without {@code errnoRet}) and allows everything else, as Docker's default profile treats io_uring since Docker
     * 25. The daemon takes the profile's JSON itself in the security option; the {@code docker} CLI reads the file
     * a user names and sends its content the same way.
     */
    private static final String SECCOMP_WITHOUT_IO_URING = """
            {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["io_uring_setup", "io_uring_enter", \
            "io_uring_register"], "action": "SCMP_ACT_ERRNO"}]}""";

    private static DeviceUnderTest disk;
    private static BlockloopImage image;

    @BeforeAll
    static void setUpDeviceAndBuildImage() {
        ItSettings settings = ItSettings.fromSystemProperties();
        DockerPreconditions.requireDocker();
        disk = settings.deviceUnderTest(LOOP_DEVICE_BYTES);
        image = BlockloopImage.build(settings.rootDir(), settings.baseImage());
    }

    @AfterAll
    static void cleanUp() {
        // Detach first: a dangling loop device outlives the JVM; a leftover image is only disk space.
        try {
            if (disk != null) {
                disk.close();
            }
        } finally {
            if (image != null) {
                image.close();
            }
        }
    }

    @Test
    void probeInsideContainerMatchesHostViewOfTheDevice() throws JsonProcessingException {
        String device = disk.device().toString();
        long hostSize = disk.sizeBytes();
        long hostLogical = disk.logicalBlockSize();
        long hostPhysical = disk.physicalBlockSize();

        ContainerRun run = runInContainer(SECCOMP_UNCONFINED, "probe", device, "--json");
        assertEquals(0, run.exitCode(), () -> "blockloop probe exited " + run.exitCode() + run.describe());

        JsonNode json = parseJson(run);
        JsonNode path = field(json, "path", run);
        JsonNode ioUring = field(json, "io_uring", run);
        String context = " (" + disk.describe() + ")" + run.describe();
        assertAll(
                () -> assertEquals(device, field(path, "path", run).asText(), "path.path" + context),
                () -> assertEquals("block-device", field(path, "type", run).asText(), "path.type" + context),
                () -> assertEquals(hostSize, longField(path, "size", run), "path.size vs blockdev --getsize64" + context),
                () -> assertEquals(hostLogical, longField(path, "logical_block_size", run),
                        "path.logical_block_size vs blockdev --getss" + context),
                () -> assertEquals(hostPhysical, longField(path, "physical_block_size", run),
                        "path.physical_block_size vs blockdev --getpbsz" + context),
                () -> assertTrue(field(ioUring, "available", run).asBoolean(),
                        "io_uring unavailable inside the container, reason: " + ioUring.path("reason") + context));
    }

    @Test
    void ioWritesPatternsThatTheHostReadsBackFromTheDevice() throws Exception {
        String device = disk.device().toString();
        byte[] before = new byte[9];
        try (java.io.RandomAccessFile raf = new java.io.RandomAccessFile(device, "r")) {
            raf.readFully(before);
        }
        ContainerRun run = runInContainer(SECCOMP_UNCONFINED, "io", "-t", "none", "-c", "write -P 0x5a 1m 64k",
                "-c", "read -P 0x5a 1m 64k", "-c", "write -P 0xa5 3 5", "-c", "read -P 0xa5 3 5", device);
        assertEquals(0, run.exitCode(), () -> "blockloop io exited " + run.exitCode() + run.describe());
        List<String> lines = run.stdout().lines().toList();
        assertAll(
                () -> assertEquals("wrote 65536/65536 bytes at offset 1048576", lines.get(0), run.describe()),
                () -> assertEquals("read 65536/65536 bytes at offset 1048576", lines.get(2), run.describe()),
                () -> assertEquals("wrote 5/5 bytes at offset 3", lines.get(4), run.describe()));
        byte[] host = new byte[65536];
        try (java.io.RandomAccessFile raf = new java.io.RandomAccessFile(device, "r")) {
            raf.seek(1 << 20);
            raf.readFully(host);
            for (int i = 0; i < host.length; i++) {
                assertEquals((byte) 0x5a, host[i], "host byte " + i + " of the 64 KiB written in the container");
            }
            byte[] small = new byte[9];
            raf.seek(0);
            raf.readFully(small);
            byte[] expected = before.clone();
            java.util.Arrays.fill(expected, 3, 8, (byte) 0xa5);
            assertEquals(java.util.Arrays.toString(expected), java.util.Arrays.toString(small),
                    "the unaligned write kept its neighbours (read-modify-write)");
        }
    }

    @Test
    void benchCompletesEveryRequestWithEachEngine() throws JsonProcessingException {
        String device = disk.device().toString();
        for (String engine : List.of("io_uring", "native", "threads")) {
            ContainerRun run = runInContainer(SECCOMP_UNCONFINED, "bench", "--json", "-c", "4000", "-d", "16",
                    "--random", "-i", engine, device);
            assertEquals(0, run.exitCode(), () -> "blockloop bench -i " + engine + " exited " + run.exitCode()
                    + run.describe());
            JsonNode json = new ObjectMapper().readTree(run.stdout().strip());
            assertAll(
                    () -> assertEquals(4000, json.path("completed").asLong(), "completed" + run.describe()),
                    () -> assertEquals(engine, json.path("engine").asText(), "engine" + run.describe()),
                    () -> assertTrue(json.path("direct").asBoolean(), "O_DIRECT" + run.describe()),
                    () -> assertTrue(json.path("iops").asDouble() > 0, "iops" + run.describe()));
        }
    }

    /**
     * io_uring blocked by seccomp, as in a container started with the default profile of Docker 25 or later:
     * {@code probe} reports io_uring unavailable with the errno and its likely cause; {@code bench} and {@code io}
     * asked for {@code aio=io_uring} each print one warning that says why (none with {@code bench -q}), use the
     * thread pool, and do their work with the right data; a {@code bench} asked for the io_uring fd monitor fails
     * with one line instead.
     */
    @Test
    void withIoUringBlockedBySeccompEachCommandSaysWhyAndFallsBack() throws JsonProcessingException {
        String device = disk.device().toString();
        String blocked = "io_uring_setup: EPERM: blocked by a seccomp filter";

        ContainerRun probe = runInContainer(SECCOMP_WITHOUT_IO_URING, "probe", device, "--json");
        assertEquals(0, probe.exitCode(), () -> "blockloop probe exited " + probe.exitCode() + probe.describe());
        JsonNode ioUring = field(parseJson(probe), "io_uring", probe);
        assertAll(
                () -> assertFalse(field(ioUring, "available", probe).asBoolean(), "available" + probe.describe()),
                () -> assertTrue(field(ioUring, "reason", probe).asText().startsWith(blocked),
                        "reason" + probe.describe()));

        ContainerRun bench = runInContainer(SECCOMP_WITHOUT_IO_URING, "bench", "--json", "--warmup", "0",
                "-c", "3000", "-d", "16", "--random", "-i", "io_uring", device);
        assertEquals(0, bench.exitCode(), () -> "blockloop bench exited " + bench.exitCode() + bench.describe());
        JsonNode json = new ObjectMapper().readTree(bench.stdout().strip());
        List<String> benchWarnings = warnings(bench);
        assertAll(
                () -> assertEquals(3000, json.path("completed").asLong(), "completed" + bench.describe()),
                () -> assertEquals("threads", json.path("engine").asText(), "engine" + bench.describe()),
                () -> assertNotEquals("io_uring", json.path("fd_monitor").asText(), "fd_monitor" + bench.describe()),
                () -> assertEquals(1, benchWarnings.size(), "warning lines" + bench.describe()),
                () -> assertTrue(benchWarnings.getFirst().startsWith(
                        "blockloop: warning: aio=io_uring is not available here (" + blocked), bench.describe()),
                () -> assertTrue(benchWarnings.getFirst().endsWith("); using aio=threads"), bench.describe()));

        // -q, as qemu-img's: the same fallback without the warning, and the results as always.
        ContainerRun quiet = runInContainer(SECCOMP_WITHOUT_IO_URING, "bench", "-q", "--json", "--warmup", "0",
                "-c", "300", "-i", "io_uring", device);
        assertAll(
                () -> assertEquals(0, quiet.exitCode(), "exit code" + quiet.describe()),
                () -> assertEquals("threads", parseJson(quiet).path("engine").asText(), "engine" + quiet.describe()),
                () -> assertEquals(List.of(), warnings(quiet), "warning lines" + quiet.describe()));

        ContainerRun io = runInContainer(SECCOMP_WITHOUT_IO_URING, "io", "-t", "none", "-i", "io_uring",
                "-c", "write -P 0x3c 2m 8k", "-c", "read -P 0x3c 2m 8k", "-c", "read -P 0 2m 8k", device);
        List<String> lines = io.stdout().lines().toList();
        assertAll(
                () -> assertEquals(1, io.exitCode(), "the last read's pattern check fails" + io.describe()),
                () -> assertEquals("wrote 8192/8192 bytes at offset 2097152", lines.get(0), io.describe()),
                () -> assertEquals("read 8192/8192 bytes at offset 2097152", lines.get(2), io.describe()),
                () -> assertEquals("Pattern verification failed at offset 2097152, 8192 bytes", lines.get(4),
                        io.describe()),
                () -> assertEquals(1, warnings(io).size(), "warning lines" + io.describe()));

        ContainerRun monitor = runInContainer(SECCOMP_WITHOUT_IO_URING, "bench", "--warmup", "0", "-c", "100",
                "--fdmon", "io_uring", device);
        List<String> errors = monitor.stderr().lines().toList();
        assertAll(
                () -> assertEquals(1, monitor.exitCode(), "exit code" + monitor.describe()),
                () -> assertEquals(1, errors.size(), "one line" + monitor.describe()),
                () -> assertTrue(errors.getFirst().startsWith("blockloop: bench: cannot start the main loop: "
                        + "io_uring fd monitor unavailable: " + blocked), monitor.describe()));
    }

    /** The run's {@code blockloop: warning:} lines on stderr. */
    private static List<String> warnings(ContainerRun run) {
        return run.stderr().lines().filter(line -> line.startsWith("blockloop: warning:")).toList();
    }

    /** One finished container: its exit code and output. */
    private record ContainerRun(List<String> command, long exitCode, String stdout, String stderr) {
        String describe() {
            return "\ncommand: blockloop " + String.join(" ", command)
                    + "\n--- stdout ---\n" + stdout.strip() + "\n--- stderr ---\n" + stderr.strip();
        }
    }

    /** Runs {@code blockloop COMMAND} in a container that has the device, under the seccomp profile given. */
    private static ContainerRun runInContainer(String seccomp, String... command) {
        String device = disk.device().toString();
        try (GenericContainer<?> container = new GenericContainer<>(DockerImageName.parse(image.name()))
                .withCommand(command)
                .withCreateContainerCmdModifier(cmd -> cmd.getHostConfig()
                        .withCapAdd(Capability.SYS_ADMIN)
                        .withSecurityOpts(List.of("seccomp=" + seccomp))
                        .withDevices(new Device("rwm", device, device)))
                .withStartupCheckStrategy(new RunToExitStartupCheckStrategy().withTimeout(PROBE_TIMEOUT))) {
            container.start();
            Long exit = container.getDockerClient().inspectContainerCmd(container.getContainerId()).exec()
                    .getState().getExitCodeLong();
            return new ContainerRun(List.of(command), exit == null ? -1 : exit,
                    container.getLogs(OutputType.STDOUT), container.getLogs(OutputType.STDERR));
        }
    }

    private static JsonNode parseJson(ContainerRun run) throws JsonProcessingException {
        String stdout = run.stdout().strip();
        if (!stdout.startsWith("{")) {
            fail("stdout of blockloop probe --json is not a JSON object" + run.describe());
        }
        return new ObjectMapper().readTree(stdout);
    }

    private static JsonNode field(JsonNode node, String name, ContainerRun run) {
        JsonNode value = node.get(name);
        if (value == null || value.isNull()) {
            fail("probe JSON lacks field '" + name + "' in " + node + run.describe());
        }
        return value;
    }

    private static long longField(JsonNode node, String name, ContainerRun run) {
        JsonNode value = field(node, name, run);
        if (!value.isIntegralNumber()) {
            fail("probe JSON field '" + name + "' is not an integer: " + value + run.describe());
        }
        return value.asLong();
    }
}
