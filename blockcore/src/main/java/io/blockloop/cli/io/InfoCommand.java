package io.blockloop.cli.io;

import io.blockloop.block.BlockDriver;

import java.util.List;
import java.util.Set;

/**
 * {@code info}: what qemu-io prints for the root node: {@code format name: raw} (twice for a protocol driver
 * such as {@code file} or {@code null-co}, which qemu names as both format and protocol), then the driver info
 * every driver here reports as zero ({@code cluster size: 0 bytes}, {@code vm state offset: 0 bytes}).
 * {@code null-co} has no driver info: as in qemu-io, the command then stops after the names and fails.
 *
 * <p>Threads: the main loop's thread, as every {@link IoSubcommand}.
 */
final class InfoCommand implements IoSubcommand {
    static final Synopsis SYNOPSIS = new Synopsis("info", "i", 0, 0, null, "prints information about the current file",
            false);
    /** Drivers that are protocols in QEMU (their protocol name is their format name). */
    private static final Set<String> PROTOCOLS = Set.of("file", "host_device", "null-co");

    @Override
    public Synopsis synopsis() {
        return SYNOPSIS;
    }

    @Override
    public boolean run(IoSession session, String typed, List<String> args) {
        BlockDriver driver = session.backend().root().driver();
        session.out().println("format name: " + driver.formatName());
        if (PROTOCOLS.contains(driver.formatName())) {
            session.out().println("format name: " + driver.formatName());
        }
        if (driver.formatName().equals("null-co")) {
            return false; // bdrv_get_info: -ENOTSUP
        }
        session.out().println("cluster size: " + IoReport.size(0));
        session.out().println("vm state offset: " + IoReport.size(0));
        return true;
    }
}
