package io.blockloop.fdmon;

/**
 * Where a monitor's {@link FdMonitor#wait wait} reports each ready node (QEMU's {@code aio_add_ready_handler}).
 *
 * <p>Called only on the monitor's home thread, from inside {@code wait}. An implementation must only
 * <em>record</em> the node (put it on a ready list) and must not run handlers or call back into the monitor:
 * the monitor may still be walking its own arrays, which a nested wait would overwrite.
 */
@FunctionalInterface
public interface ReadySink {
    /**
     * @param node    a node registered with the monitor (possibly one that was replaced or removed after the
     *                kernel reported it; the owner decides whether it still counts)
     * @param revents the {@code POLL*} bits that are ready, never 0
     */
    void ready(FdNode node, int revents);
}
