package io.blockloop.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.blockloop.ffm.testing.Commands;
import io.blockloop.ffm.testing.LoopDevice;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ProbeCommandTest {
    @TempDir
    Path dir;

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();

    private int run(String... args) {
        return BlockLoopCommand.run(List.of(args), new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
    }

    @Test
    void jsonForALoopDeviceMatchesBlockdev() throws Exception {
        Path backing = dir.resolve("disk");
        try (RandomAccessFile f = new RandomAccessFile(backing.toFile(), "rw")) {
            f.setLength(24L << 20);
        }
        try (LoopDevice loop = LoopDevice.attach(backing)) {
            String dev = loop.path().toString();
            assertEquals(0, run("probe", "--json", dev), err.toString());
            JsonNode json = new ObjectMapper().readTree(out.toString(StandardCharsets.UTF_8));
            assertEquals(Long.parseLong(Commands.run("blockdev", "--getsize64", dev).trim()), json.at("/path/size").asLong());
            assertEquals(Integer.parseInt(Commands.run("blockdev", "--getss", dev).trim()), json.at("/path/logical_block_size").asInt());
            assertEquals(Integer.parseInt(Commands.run("blockdev", "--getpbsz", dev).trim()), json.at("/path/physical_block_size").asInt());
            assertEquals("block-device", json.at("/path/type").asText());
            assertEquals(System.getProperty("os.version"), json.get("kernel").asText());
            assertTrue(json.at("/io_uring/available").asBoolean(), json.toString());
            assertTrue(json.at("/io_uring/opcodes").toString().contains("\"READV\""), json.toString());
            assertTrue(json.at("/linux_aio/available").asBoolean());
            assertTrue(json.at("/epoll/available").asBoolean());
        }
    }

    @Test
    void humanOutputWithoutPath() {
        assertEquals(0, run("probe"), err.toString());
        String text = out.toString(StandardCharsets.UTF_8);
        assertTrue(text.startsWith("kernel:     " + System.getProperty("os.version")), text);
        assertTrue(text.contains("io_uring:   available"), text);
        assertTrue(text.contains("linux_aio:  available"), text);
    }

    @Test
    void badPathIsOneLineAndExitOne() {
        assertEquals(1, run("probe", dir.resolve("missing").toString()));
        String message = err.toString(StandardCharsets.UTF_8);
        assertEquals(1, message.lines().count(), message);
        assertEquals("blockloop: probe: Could not open '" + dir.resolve("missing") + "': No such file or directory",
                message.strip());
        assertEquals(1, run("probe", dir.toString()), "a directory is neither file nor device");
    }

    @Test
    void usageMistakesExitTwo() {
        assertEquals(2, run("probe", "--bogus"));
        assertEquals(2, run("probe", "a", "b"));
        assertEquals(2, run("frobnicate"));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("unknown command 'frobnicate'"));
        err.reset();
        assertEquals(2, run());
        assertEquals("blockloop: no command given (commands: bench, io, probe, help; see blockloop help)\n",
                err.toString(StandardCharsets.UTF_8), "one line");
    }
}
