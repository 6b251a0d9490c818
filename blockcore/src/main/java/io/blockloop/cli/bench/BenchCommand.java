package io.blockloop.cli.bench;

import io.blockloop.cli.CommandFailure;

import java.io.PrintStream;
import java.util.List;

/** {@code blockloop bench}: not in this commit yet (issue #6). */
public final class BenchCommand {
    public BenchCommand(PrintStream out, PrintStream err) {
    }

    public void run(List<String> args) throws CommandFailure {
        throw CommandFailure.runtime("bench: not built yet");
    }
}
