package io.blockloop.cli.io;

import java.util.List;

/**
 * {@code length}: the image size, as {@code cvtstr} writes it ({@code 1 MiB}).
 *
 * <p>Threads: the main loop's thread, as every {@link IoSubcommand}.
 */
final class LengthCommand implements IoSubcommand {
    static final Synopsis SYNOPSIS = new Synopsis("length", "l", 0, 0, null, "gets the length of the current file",
            false);

    @Override
    public Synopsis synopsis() {
        return SYNOPSIS;
    }

    @Override
    public boolean run(IoSession session, String typed, List<String> args) {
        session.out().println(IoReport.size(session.backend().length()));
        return true;
    }
}
