package io.blockloop.cli;

import org.junit.jupiter.api.Test;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The {@code blockloop} command as a process, for what only a real standard output shows: a reader that goes away
 * ({@code | head -1}) ends the command silently with 128 + SIGPIPE, as a C tool ends; a device that refuses the
 * bytes ({@code > /dev/full}) still gets the message and status 1.
 */
class BlockLoopCommandTest {
    /**
     * {@code blockloop io} dumping 64 KiB as hex: about 300 KiB of output, more than a pipe holds. The child JVM runs
     * without {@code --add-exports java.base/jdk.internal.foreign}, so its requests also take the path that pins no
     * arena ({@code ArenaPins}).
     */
    private static ProcessBuilder hexDumpOfANullDevice() {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        return new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED",
                "--add-exports", "java.base/jdk.internal.vm=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                BlockLoopCommand.class.getName(), "io", "-f", "null", "-c", "read -v 0 64k", "1M");
    }

    @Test
    void aPipeWhoseReaderWentAwayEndsTheCommandSilentlyAsSigpipeWould() throws Exception {
        Process p = hexDumpOfANullDevice().start();
        p.getInputStream().close(); // the reader goes away without reading: the writes fail with EPIPE
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the command did not end");
        assertEquals(BlockLoopCommand.BROKEN_PIPE, p.exitValue(), err);
        assertEquals("", err);
    }

    @Test
    void aFullDeviceStillGetsTheMessage() throws IOException, InterruptedException {
        Process p = hexDumpOfANullDevice().redirectOutput(new File("/dev/full")).start();
        List<String> err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8).lines().toList();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the command did not end");
        assertEquals(CommandFailure.RUNTIME, p.exitValue());
        assertEquals(List.of("blockloop: could not write the output (standard output failed)"), err);
    }
}
