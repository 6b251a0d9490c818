package io.blockloop.ffm.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A loop block device attached over a file for the length of a test: {@code losetup -f --show
 * --direct-io=on FILE}, detached by {@link #close()}. Needs root; when it cannot attach, the test fails
 * with losetup's message (a hardware test that cannot reach hardware has not passed).
 */
public final class LoopDevice implements AutoCloseable {
    private final Path device;
    private boolean closed;

    private LoopDevice(Path device) {
        this.device = device;
    }

    /** Attaches a loop device over {@code backingFile} with direct I/O on and 512-byte sectors. */
    public static LoopDevice attach(Path backingFile) throws IOException, InterruptedException {
        return attach(backingFile, 512);
    }

    /**
     * Attaches a loop device over {@code backingFile} with direct I/O on and logical sectors of
     * {@code sectorSize} bytes ({@code --sector-size}; 4096 stands for a 4Kn disk).
     */
    public static LoopDevice attach(Path backingFile, int sectorSize) throws IOException, InterruptedException {
        String out = Commands.run("losetup", "-f", "--show", "--direct-io=on", "--sector-size",
                Integer.toString(sectorSize), backingFile.toString()).trim();
        LoopDevice loop = new LoopDevice(Path.of(out));
        if (loop.isReadOnly()) { // every write would fail with EPERM: say why here, not as a data failure later
            loop.close();
            throw new IOException(out + " came up read-only although attached read-write: a read-only flag set with "
                    + "blockdev --setro outlives losetup -d (docs/testing-in-containers.md)");
        }
        return loop;
    }

    /**
     * Attaches a read-only loop device over {@code backingFile} ({@code losetup -r}): it still opens
     * {@code O_RDWR}, and writes fail with {@code EPERM}. The flag goes with the attachment, so the next user of
     * the device number gets a writable device (unlike {@code blockdev --setro}, which survives detach and re-attach).
     */
    public static LoopDevice attachReadOnly(Path backingFile) throws IOException, InterruptedException {
        String out = Commands.run("losetup", "-f", "--show", "--direct-io=on", "--read-only",
                backingFile.toString()).trim();
        return new LoopDevice(Path.of(out));
    }

    /**
     * Whether the device refuses writes now ({@code /sys/block/loopN/ro}: the disk's flag from {@code losetup -r}
     * or the device's from {@code blockdev --setro}). For failure messages: a write that fails with {@code EPERM}
     * on a device that should be writable.
     */
    public boolean isReadOnly() throws IOException {
        return Files.readString(Path.of("/sys/block", device.getFileName().toString(), "ro")).trim().equals("1");
    }

    public Path path() {
        return device;
    }

    @Override
    public void close() throws IOException, InterruptedException {
        if (!closed) {
            closed = true;
            Commands.run("losetup", "-d", device.toString());
        }
    }
}
