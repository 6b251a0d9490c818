package io.blockloop.cli.io;

/**
 * A command refused its arguments before doing any I/O. It carries what qemu-io prints in that case: a line on
 * standard output (a parsing error, or the command's usage line) and, for getopt's complaints, a line on
 * standard error before it. The command counts as failed.
 *
 * <p>Immutable; any thread.
 */
final class ArgumentError extends Exception {
    private static final long serialVersionUID = 1L;

    private final String errorLine;

    ArgumentError(String outputLine) {
        this(null, outputLine);
    }

    private ArgumentError(String errorLine, String outputLine) {
        super(outputLine, null, false, false);
        this.errorLine = errorLine;
    }

    /** The command's usage line on stdout, after getopt's complaint (null if none) on stderr. */
    static ArgumentError usage(Synopsis synopsis, String getoptComplaint) {
        return new ArgumentError(getoptComplaint, synopsis.usageLine());
    }

    /** The line for standard output. */
    String outputLine() {
        return getMessage();
    }

    /** The line for standard error, or null. */
    String errorLine() {
        return errorLine;
    }
}
