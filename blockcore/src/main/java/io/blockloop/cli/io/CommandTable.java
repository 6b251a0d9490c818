package io.blockloop.cli.io;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * The commands {@code -c} can run, and how one command line is run (qemu-io's {@code qemuio_command}): split on
 * spaces, the command looked up by name or alias ({@code command "x" not found}), its word count checked
 * ({@code bad argument count 1 to read, expected at least 2 arguments}), write permission checked for commands
 * that write, then the command itself, whose refused arguments print qemu-io's lines.
 *
 * <p>Threads: the main loop's thread.
 */
final class CommandTable {
    private final List<IoSubcommand> commands;

    CommandTable() {
        List<IoSubcommand> all = new ArrayList<>(List.of(new ReadCommand(), new ReadvCommand(), new WriteCommand(),
                new WritevCommand(), new AioReadCommand(), new AioWriteCommand(), new AioFlushCommand(),
                new FlushCommand(), new DiscardCommand(), new LengthCommand(), new InfoCommand(),
                new HelpCommand(this)));
        all.sort(Comparator.comparing(c -> c.synopsis().name()));
        commands = List.copyOf(all);
    }

    /** Every command, sorted by name. */
    List<IoSubcommand> commands() {
        return commands;
    }

    /** The command called {@code name} (or aliased so), or null. */
    IoSubcommand find(String name) {
        for (IoSubcommand command : commands) {
            Synopsis s = command.synopsis();
            if (s.name().equals(name) || name.equals(s.alias())) {
                return command;
            }
        }
        return null;
    }

    /** Runs one command line; returns whether it succeeded (an empty line does). */
    boolean execute(IoSession session, String line) {
        List<String> words = words(line);
        if (words.isEmpty()) {
            return true;
        }
        String typed = words.getFirst();
        IoSubcommand command = find(typed);
        if (command == null) {
            session.err().println("command \"" + typed + "\" not found");
            return false;
        }
        List<String> args = words.subList(1, words.size());
        String countError = command.synopsis().argumentCountError(typed, args.size());
        if (countError != null) {
            session.err().println(countError);
            return false;
        }
        if (command.synopsis().writes() && session.backend().readOnly()) {
            session.err().println("blockloop: Block node is read-only");
            return false;
        }
        try {
            return command.run(session, typed, args);
        } catch (ArgumentError e) {
            if (e.errorLine() != null) {
                session.err().println(e.errorLine());
            }
            session.out().println(e.outputLine());
            return false;
        } catch (OutOfMemoryError e) {
            // A buffer too large for this machine fails this command only; the script goes on (qemu-io aborts).
            session.err().println("blockloop: " + typed + ": out of memory: " + e.getMessage());
            return false;
        }
    }

    /** qemu-io's {@code breakline}: words separated by single spaces, empty words dropped (no quoting). */
    static List<String> words(String line) {
        List<String> words = new ArrayList<>();
        for (String w : line.split(" ")) {
            if (!w.isEmpty()) {
                words.add(w);
            }
        }
        return words;
    }
}
