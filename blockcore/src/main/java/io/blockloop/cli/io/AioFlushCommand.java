package io.blockloop.cli.io;

import java.util.List;

/**
 * {@code aio_flush}: waits until every {@code aio_read}/{@code aio_write} has completed ({@code blk_drain_all}).
 *
 * <p>Threads: the main loop's thread, as every {@link IoSubcommand}.
 */
final class AioFlushCommand implements IoSubcommand {
    static final Synopsis SYNOPSIS = new Synopsis("aio_flush", null, 0, 0, null,
            "completes all outstanding aio requests", false);

    @Override
    public Synopsis synopsis() {
        return SYNOPSIS;
    }

    @Override
    public boolean run(IoSession session, String typed, List<String> args) {
        session.drainAsync();
        return true;
    }
}
