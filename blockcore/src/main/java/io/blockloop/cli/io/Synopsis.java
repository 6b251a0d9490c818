package io.blockloop.cli.io;

/**
 * What qemu-io's {@code cmdinfo_t} says about a command: its name and one-letter alias, how many arguments
 * (options included) it takes, its usage and one-line description, and whether it writes (needs a writable
 * image).
 *
 * <p>Immutable value; any thread.
 *
 * @param name    the command's name ({@code read})
 * @param alias   its short name ({@code r}), or null
 * @param argMin  fewest words after the name
 * @param argMax  most words after the name, -1 for no limit
 * @param args    the argument synopsis ({@code [-qv] off len}), or null for a command without arguments
 * @param oneLine what it does, in a few words
 * @param writes  whether it needs write permission on the image
 */
record Synopsis(String name, String alias, int argMin, int argMax, String args, String oneLine, boolean writes) {

    /** qemu-io's usage line: {@code read [-qv] off len -- reads a number of bytes at a specified offset}. */
    String usageLine() {
        return name + " " + args + " -- " + oneLine;
    }

    /** The line {@code help} prints for the command. */
    String helpLine() {
        return name + (args == null ? "" : " " + args) + " -- " + oneLine;
    }

    /** qemu-io's complaint when the word count is outside [argMin, argMax], or null when it fits. */
    String argumentCountError(String typed, int count) {
        if (count >= argMin && (argMax == -1 || count <= argMax)) {
            return null;
        }
        if (argMax == -1) {
            return "bad argument count " + count + " to " + typed + ", expected at least " + argMin + " arguments";
        }
        if (argMin == argMax) {
            return "bad argument count " + count + " to " + typed + ", expected " + argMin + " arguments";
        }
        return "bad argument count " + count + " to " + typed + ", expected between " + argMin + " and " + argMax
                + " arguments";
    }
}
