package io.blockloop.cli;

/**
 * Ends a command with one line on stderr and an exit status: {@link #USAGE} (2) for a mistake in the command
 * line, {@link #RUNTIME} (1) for a failure while running. Never printed with a stack trace.
 *
 * <p>Immutable; may cross threads freely.
 */
public final class CommandFailure extends Exception {
    public static final int RUNTIME = 1;
    public static final int USAGE = 2;
    private static final long serialVersionUID = 1L;

    private final int exitStatus;

    private CommandFailure(String message, int exitStatus) {
        super(message, null, false, false);
        this.exitStatus = exitStatus;
    }

    public static CommandFailure usage(String message) {
        return new CommandFailure(message, USAGE);
    }

    public static CommandFailure runtime(String message) {
        return new CommandFailure(message, RUNTIME);
    }

    public int exitStatus() {
        return exitStatus;
    }
}
