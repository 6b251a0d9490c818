package io.blockloop.it;

import java.nio.file.Path;
import java.time.Duration;

/**
 * The block device the container tests run BlockLoop against: a loop device they attach themselves
 * ({@link LoopDevice}), or a real disk the user hands them ({@link ScratchDevice}). The geometry queries ask the
 * host's {@code blockdev}, so the tests compare BlockLoop's view from inside a container with the host's.
 *
 * <p>Threading: confined to the test thread that set it up.
 */
interface DeviceUnderTest extends AutoCloseable {

    Duration COMMAND_TIMEOUT = Duration.ofSeconds(30);

    /** The device node, e.g. {@code /dev/loop3}. */
    Path device();

    /** What the device is, for failure messages. */
    String describe();

    /** Gives the device back: a loop device is detached, a scratch device stays as it is. */
    @Override
    void close();

    /** {@code blockdev --getsize64}: the device size in bytes, as the host sees it. */
    default long sizeBytes() {
        return blockdev("--getsize64");
    }

    /** {@code blockdev --getss}: the logical block (sector) size. */
    default long logicalBlockSize() {
        return blockdev("--getss");
    }

    /** {@code blockdev --getpbsz}: the physical block size. */
    default long physicalBlockSize() {
        return blockdev("--getpbsz");
    }

    private long blockdev(String query) {
        HostCommand.Result r = HostCommand.run(COMMAND_TIMEOUT,
                HostCommand.requireTool("blockdev", "util-linux").toString(), query, device().toString())
                .requireSuccess();
        try {
            return Long.parseLong(r.stdout().strip());
        } catch (NumberFormatException e) {
            throw new AssertionError("blockdev " + query + " " + device() + " printed '" + r.stdout().strip() + "'", e);
        }
    }
}
