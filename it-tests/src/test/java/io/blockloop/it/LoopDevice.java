package io.blockloop.it;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A loop block device on the host, backed by a sparse file and attached with direct I/O
 * ({@code losetup -f --show --direct-io=on FILE}). {@link #close()} detaches the device and deletes the
 * backing file; it is idempotent and safe to call after a partial failure.
 *
 * <p>Threading: confined to the test thread that attached it. Needs root and util-linux's losetup and
 * blockdev; their absence is a test failure, never a skip.
 */
final class LoopDevice implements DeviceUnderTest {

    private final Path backingFile;
    private final Path device;
    private boolean closed;

    private LoopDevice(Path backingFile, Path device) {
        this.backingFile = backingFile;
        this.device = device;
    }

    /**
     * Creates a sparse backing file of {@code sizeBytes} in {@code scratchDir} and attaches the first free
     * loop device to it. The backing file is deleted again if attaching fails.
     */
    static LoopDevice attach(Path scratchDir, long sizeBytes) {
        Path losetup = HostCommand.requireTool("losetup", "mount/util-linux");
        HostCommand.requireTool("blockdev", "util-linux");
        Path file;
        try {
            Files.createDirectories(scratchDir);
            file = Files.createTempFile(scratchDir, "loop-", ".img");
            try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
                raf.setLength(sizeBytes); // sparse: costs no disk space
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create the loop backing file in " + scratchDir, e);
        }
        try {
            HostCommand.Result r = HostCommand.run(COMMAND_TIMEOUT,
                    losetup.toString(), "-f", "--show", "--direct-io=on", file.toString());
            if (r.exitCode() != 0) {
                throw new AssertionError("cannot attach a loop device (losetup -f --show --direct-io=on " + file
                        + ", exit " + r.exitCode() + "): " + r.stderr().strip()
                        + "\nThe container tests need root and a working /dev/loop-control; bin/run-tests checks both.");
            }
            Path dev = Path.of(r.stdout().strip());
            if (!r.stdout().strip().startsWith("/dev/loop")) {
                throw new AssertionError("losetup printed no loop device: '" + r.stdout().strip() + "'");
            }
            return new LoopDevice(file, dev);
        } catch (RuntimeException | Error e) {
            deleteQuietly(file, e);
            throw e;
        }
    }

    @Override
    public Path device() {
        return device;
    }

    @Override
    public String describe() {
        return "loop " + this + ", host dio=" + directIoState();
    }

    /** The file behind the device. */
    Path backingFile() {
        return backingFile;
    }

    /** Whether the kernel really runs this loop device with direct I/O ({@code /sys/block/loopN/loop/dio}). */
    String directIoState() {
        Path dio = Path.of("/sys/block", device.getFileName().toString(), "loop", "dio");
        try {
            return Files.readString(dio).strip();
        } catch (IOException e) {
            return "unknown (" + e.getMessage() + ")";
        }
    }

    /** Detaches the device ({@code losetup -d}) and deletes the backing file; failures are reported, not hidden. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        AssertionError failure = null;
        try {
            HostCommand.run(COMMAND_TIMEOUT,
                    HostCommand.requireTool("losetup", "mount/util-linux").toString(), "-d", device.toString())
                    .requireSuccess();
        } catch (AssertionError e) {
            failure = e;
        }
        deleteQuietly(backingFile, failure);
        if (failure != null) {
            throw failure;
        }
    }

    private static void deleteQuietly(Path file, Throwable addTo) {
        try {
            Files.deleteIfExists(file);
        } catch (IOException e) {
            if (addTo != null) {
                addTo.addSuppressed(e);
            } else {
                throw new UncheckedIOException("cannot delete loop backing file " + file, e);
            }
        }
    }

    @Override
    public String toString() {
        return device + " -> " + backingFile;
    }
}
