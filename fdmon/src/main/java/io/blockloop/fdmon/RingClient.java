package io.blockloop.fdmon;

/**
 * Receives the completions of the requests a client put on an io_uring monitor's ring through a
 * {@link SharedRing} (QEMU's {@code CqeHandler}).
 *
 * <p>Threads: called on the monitor's home thread, from inside {@link IoUringFdMonitor#wait} or
 * {@link SharedRing#awaitCompletions}; it must only record the result (the client delivers it later: from the
 * read handler it registered on {@link SharedRing#fd()} after a wait, or after {@code awaitCompletions} returns),
 * because the monitor is in the middle of reaping.
 */
@FunctionalInterface
public interface RingClient {
    /**
     * The CQE of one client request: {@code userData} as the client set it (without
     * {@link SharedRing#userDataTag()}), {@code res} the kernel's result (bytes, or {@code -errno}).
     */
    void completion(long userData, int res);
}
