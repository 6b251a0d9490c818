package io.blockloop.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * {@link ScratchDevice#check} accepts a whole, unused block device and refuses, with the reason, everything whose
 * data the container tests must not overwrite. No container: the checks run on the host.
 */
final class ScratchDeviceTest {

    private final ItSettings settings = ItSettings.fromSystemProperties();

    @Test
    void anUnusedDiskIsAcceptedAndLeftAttached() {
        try (LoopDevice loop = LoopDevice.attach(settings.scratchDir(), ScratchDevice.MIN_BYTES)) {
            ScratchDevice disk = ScratchDevice.check(loop.device());
            assertEquals(loop.device(), disk.device());
            assertEquals(ScratchDevice.MIN_BYTES, disk.sizeBytes());
            disk.close();
            assertTrue(Files.exists(Path.of("/sys/class/block", loop.device().getFileName().toString(), "loop")),
                    "closing a scratch device must not detach it");
        }
    }

    @Test
    void aDiskSmallerThanTheTestsNeedIsRefused() {
        try (LoopDevice loop = LoopDevice.attach(settings.scratchDir(), 4L << 20)) {
            AssertionError e = assertThrows(AssertionError.class, () -> ScratchDevice.check(loop.device()));
            assertTrue(e.getMessage().contains("has 4194304 bytes, fewer than 16777216"), e.getMessage());
        }
    }

    @Test
    void aMountedDiskIsRefused() throws IOException {
        String mounted = null;
        for (String line : Files.readAllLines(Path.of("/proc/self/mounts"))) {
            String source = line.split("\\s+")[0];
            if (source.startsWith("/dev/") && Files.isDirectory(Path.of("/sys/class/block", source.substring(5)))) {
                mounted = source;
                break;
            }
        }
        assertNotNull(mounted, "the test machine mounts a block device (its root file system)");
        String device = mounted;
        AssertionError e = assertThrows(AssertionError.class, () -> ScratchDevice.check(Path.of(device)));
        assertTrue(e.getMessage().contains(" is mounted: " + device + " ")
                || e.getMessage().contains(" is a partition, not a whole disk"), e.getMessage());
    }

    @Test
    void aRegularFileOrAMissingPathIsRefused() throws IOException {
        Files.createDirectories(settings.scratchDir());
        Path file = Files.createTempFile(settings.scratchDir(), "not-a-disk-", ".img");
        try {
            AssertionError notBlock = assertThrows(AssertionError.class, () -> ScratchDevice.check(file));
            assertTrue(notBlock.getMessage().endsWith(" is not a block device (-Dblockloop.it.scratchDevice names a "
                    + "whole, unused disk whose data may be overwritten)"), notBlock.getMessage());
        } finally {
            Files.delete(file);
        }
        AssertionError missing = assertThrows(AssertionError.class,
                () -> ScratchDevice.check(Path.of("/dev/no-such-disk")));
        assertTrue(missing.getMessage().startsWith("scratch device /dev/no-such-disk does not exist"),
                missing.getMessage());
    }
}
