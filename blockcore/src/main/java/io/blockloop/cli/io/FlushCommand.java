package io.blockloop.cli.io;

import io.blockloop.block.BlockIoException;

import java.util.List;

/**
 * {@code flush}: makes completed writes durable. Prints nothing on success; qemu-io prints nothing on failure
 * either, so the failure line goes to standard error.
 *
 * <p>Threads: the main loop's thread, as every {@link IoSubcommand}.
 */
final class FlushCommand implements IoSubcommand {
    static final Synopsis SYNOPSIS = new Synopsis("flush", "f", 0, 0, null, "flush all in-core file state to disk",
            false);

    @Override
    public Synopsis synopsis() {
        return SYNOPSIS;
    }

    @Override
    public boolean run(IoSession session, String typed, List<String> args) {
        try {
            session.backend().flush();
            return true;
        } catch (BlockIoException e) {
            session.err().println("flush failed: " + IoSession.strerror(e));
            return false;
        }
    }
}
