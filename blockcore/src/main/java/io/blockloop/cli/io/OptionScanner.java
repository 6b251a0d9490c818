package io.blockloop.cli.io;

import io.blockloop.cli.LongOptionNames;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Walks a command line the way GNU {@code getopt_long} does for qemu-io: short options clustered ({@code -qv}),
 * an option's argument attached ({@code -P0xa}) or next ({@code -P 0xa}), long options ({@code --cache=none} or
 * {@code --cache none}, or any unambiguous prefix: {@code --cach none}), operands anywhere (GNU permutation:
 * {@code read 0 512 -v} works), and {@code --} ending the options. Options are handed out one at a time, so that
 * a caller can act on each as it comes (qemu-io reports a bad {@code -P} before a later unknown option).
 *
 * <p>Threads: a scanner is used by one thread, for one command line.
 */
final class OptionScanner {
    /** Returned by {@link #next()} for an unknown option or a missing argument; {@link #error()} says which. */
    static final int BAD = '?';
    /** Returned by {@link #next()} when the options are exhausted; {@link #operands()} is then complete. */
    static final int END = -1;

    private final String program;
    private final List<String> args;
    private final String shortOptions;
    private final Map<String, Character> longOptions;
    private final List<String> operands = new ArrayList<>();
    private int index;
    /** Position inside a cluster of short options ({@code -qv}); 0 when between words. */
    private int clusterPos;
    private String argument;
    private String error;

    /**
     * @param program      the name in error messages ({@code read: invalid option -- 'X'})
     * @param args         the words after the command name
     * @param shortOptions getopt's option string: letters, a letter followed by {@code :} takes an argument
     * @param longOptions  long option names (without {@code --}) mapped to the short option they stand for
     */
    OptionScanner(String program, List<String> args, String shortOptions, Map<String, Character> longOptions) {
        this.program = program;
        this.args = args;
        this.shortOptions = shortOptions;
        this.longOptions = longOptions;
    }

    OptionScanner(String program, List<String> args, String shortOptions) {
        this(program, args, shortOptions, Map.of());
    }

    /** The next option's letter, {@link #BAD}, or {@link #END}. */
    int next() {
        argument = null;
        error = null;
        if (clusterPos > 0) {
            return shortOption(args.get(index));
        }
        while (index < args.size()) {
            String word = args.get(index);
            if (word.equals("--")) {
                operands.addAll(args.subList(index + 1, args.size()));
                index = args.size();
                return END;
            }
            if (word.startsWith("--")) {
                index++;
                return longOption(word.substring(2));
            }
            if (word.length() > 1 && word.charAt(0) == '-') {
                clusterPos = 1;
                return shortOption(word);
            }
            operands.add(word);
            index++;
        }
        return END;
    }

    /** The argument of the option {@link #next()} just returned. */
    String argument() {
        return argument;
    }

    /** getopt's message for the {@link #BAD} option {@link #next()} just returned. */
    String error() {
        return error;
    }

    /** The words that are not options, in order; complete once {@link #next()} returned {@link #END}. */
    List<String> operands() {
        return operands;
    }

    private int shortOption(String word) {
        char c = word.charAt(clusterPos++);
        boolean last = clusterPos == word.length();
        int at = c == ':' ? -1 : shortOptions.indexOf(c);
        if (at < 0) {
            endCluster(last);
            error = program + ": invalid option -- '" + c + "'";
            return BAD;
        }
        boolean takesArgument = at + 1 < shortOptions.length() && shortOptions.charAt(at + 1) == ':';
        if (!takesArgument) {
            endCluster(last);
            return c;
        }
        if (!last) {
            argument = word.substring(clusterPos);
            endCluster(true);
            return c;
        }
        endCluster(true);
        if (index >= args.size()) {
            error = program + ": option requires an argument -- '" + c + "'";
            return BAD;
        }
        argument = args.get(index++);
        return c;
    }

    private void endCluster(boolean last) {
        if (last) {
            clusterPos = 0;
            index++;
        }
    }

    /**
     * The long option {@code given} names: itself, or the only one it abbreviates ({@code --form} is
     * {@code --format}), as getopt_long takes any unambiguous prefix. Null, with {@link #error} set, when it names
     * none or several; several that stand for the same short option are not ambiguous.
     */
    private String matchLongOption(String given) {
        List<String> candidates = LongOptionNames.matching(given, longOptions.keySet());
        if (candidates.isEmpty()) {
            error = program + ": unrecognized option '--" + given + "'";
            return null;
        }
        if (candidates.stream().map(longOptions::get).distinct().count() > 1) {
            StringBuilder e = new StringBuilder(program).append(": option '--").append(given)
                    .append("' is ambiguous; possibilities:");
            candidates.forEach(n -> e.append(" '--").append(n).append('\''));
            error = e.toString();
            return null;
        }
        return candidates.getFirst();
    }

    private int longOption(String text) {
        int eq = text.indexOf('=');
        String given = eq < 0 ? text : text.substring(0, eq);
        String name = matchLongOption(given);
        if (name == null) {
            return BAD;
        }
        Character c = longOptions.get(name);
        int at = shortOptions.indexOf(c);
        boolean takesArgument = at >= 0 && at + 1 < shortOptions.length() && shortOptions.charAt(at + 1) == ':';
        if (!takesArgument) {
            if (eq >= 0) {
                error = program + ": option '--" + name + "' doesn't allow an argument";
                return BAD;
            }
            return c;
        }
        if (eq >= 0) {
            argument = text.substring(eq + 1);
        } else if (index < args.size()) {
            argument = args.get(index++);
        } else {
            error = program + ": option '--" + name + "' requires an argument";
            return BAD;
        }
        return c;
    }
}
