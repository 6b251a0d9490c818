package io.blockloop.block.graph;

/**
 * How the graph writer quiesces all I/O before it waits for readers (QEMU's {@code bdrv_drain_all_begin_nopoll}
 * and {@code bdrv_drain_all_end}): supplied by the block layer, so that requests arriving without end cannot
 * starve the writer. {@link #beginNoPoll()} tells every node's parents to stop submitting new requests (a
 * drained {@code BlockBackend} queues them) without waiting for the requests in flight: the writer's own wait
 * for the reader count to reach zero does the polling. {@link #end()} lets the queued requests go.
 *
 * <p>Threads: both are called by {@link GraphLock#writeLock()} on the main loop's thread, outside any
 * coroutine; {@link #end()} exactly once after each {@link #beginNoPoll()}, also when the write lock gives up
 * ({@link GraphLock#tryWriteLock}). Neither may take the graph lock.
 */
public interface DrainAll {
    /** Quiesces nothing: the default until the block layer installs its own. */
    DrainAll NONE = new DrainAll() {
        @Override
        public void beginNoPoll() {
        }

        @Override
        public void end() {
        }

        @Override
        public String toString() {
            return "DrainAll.NONE";
        }
    };

    /** Stops new I/O on every node, without polling for the I/O in flight. Main loop thread. */
    void beginNoPoll();

    /** Ends what {@link #beginNoPoll()} began: queued requests may go. Main loop thread. */
    void end();
}
