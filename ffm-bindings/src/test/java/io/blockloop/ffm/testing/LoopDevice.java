package io.blockloop.ffm.testing;

import java.io.IOException;
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
        return new LoopDevice(Path.of(out));
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
