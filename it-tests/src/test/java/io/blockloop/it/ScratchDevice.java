package io.blockloop.it;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A real disk the user gives the container tests ({@code -Dblockloop.it.scratchDevice=/dev/sdX}) instead of a loop
 * device. The tests overwrite a few ranges of it (below 4 MiB), so it must hold nothing anyone needs.
 * {@link #check} refuses, with the reason, anything that is not a whole, unused block device of at least
 * {@value #MIN_BYTES} bytes: a path that is no block device, a partition, a device that is mounted or swap (itself
 * or one of its partitions), one that device-mapper, MD or another holder uses, one too small. {@link #close()}
 * leaves the device as it is.
 *
 * <p>Threading: confined to the test thread that checked it.
 */
final class ScratchDevice implements DeviceUnderTest {

    /** The tests write below 4 MiB and bench reads the whole device; 16 MiB leaves room for both. */
    static final long MIN_BYTES = 16L << 20;

    private final Path device;

    private ScratchDevice(Path device) {
        this.device = device;
    }

    /** The device at {@code path}, if the tests may overwrite parts of it; an {@link AssertionError} says why not. */
    static ScratchDevice check(Path path) {
        String use = " (-Dblockloop.it.scratchDevice names a whole, unused disk whose data may be overwritten)";
        Path real;
        try {
            real = path.toRealPath();
        } catch (IOException e) {
            throw new AssertionError("scratch device " + path + " does not exist" + use, e);
        }
        String name = real.getFileName().toString();
        Path sys = Path.of("/sys/class/block", name);
        if (!real.startsWith("/dev") || !Files.isDirectory(sys)) {
            throw new AssertionError("scratch device " + path + " is not a block device" + use);
        }
        if (Files.exists(sys.resolve("partition"))) {
            throw new AssertionError("scratch device " + path + " is a partition, not a whole disk" + use);
        }
        List<String> holders = list(sys.resolve("holders"));
        if (!holders.isEmpty()) {
            throw new AssertionError("scratch device " + path + " is in use by " + holders + use);
        }
        String mounted = mountedFrom(real, name);
        if (mounted != null) {
            throw new AssertionError("scratch device " + path + " is mounted: " + mounted + use);
        }
        ScratchDevice disk = new ScratchDevice(real);
        long size = disk.sizeBytes();
        if (size < MIN_BYTES) {
            throw new AssertionError("scratch device " + path + " has " + size + " bytes, fewer than " + MIN_BYTES
                    + use);
        }
        return disk;
    }

    /**
     * The line of /proc/self/mounts or /proc/swaps whose source is the device or one of its partitions, or null.
     */
    private static String mountedFrom(Path device, String name) {
        List<String> sources = new ArrayList<>(list(Path.of("/sys/class/block", name)).stream()
                .filter(entry -> entry.startsWith(name)).map(entry -> "/dev/" + entry).toList());
        sources.add(device.toString());
        for (Path table : List.of(Path.of("/proc/self/mounts"), Path.of("/proc/swaps"))) {
            try {
                for (String line : Files.readAllLines(table)) {
                    if (sources.contains(line.split("\\s+", 2)[0])) {
                        return line;
                    }
                }
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read " + table, e);
            }
        }
        return null;
    }

    private static List<String> list(Path dir) {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (var entries = Files.list(dir)) {
            return entries.map(p -> p.getFileName().toString()).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + dir, e);
        }
    }

    @Override
    public Path device() {
        return device;
    }

    @Override
    public String describe() {
        return "scratch device " + device;
    }

    @Override
    public void close() {
        // The user's disk: nothing to detach, nothing to delete.
    }

    @Override
    public String toString() {
        return device.toString();
    }
}
