package io.blockloop.cli.io;

import java.util.List;

/**
 * {@code help [command]}: the usage line of one command, or of all of them.
 *
 * <p>Threads: the main loop's thread, as every {@link IoSubcommand}.
 */
final class HelpCommand implements IoSubcommand {
    static final Synopsis SYNOPSIS = new Synopsis("help", "?", 0, 1, "[command]", "help for one or all commands",
            false);

    private final CommandTable table;

    HelpCommand(CommandTable table) {
        this.table = table;
    }

    @Override
    public Synopsis synopsis() {
        return SYNOPSIS;
    }

    @Override
    public boolean run(IoSession session, String typed, List<String> args) {
        if (args.isEmpty()) {
            for (IoSubcommand command : table.commands()) {
                session.out().println(command.synopsis().helpLine());
            }
            session.out().println();
            session.out().println("Use 'help commandname' for extended help.");
            return true;
        }
        IoSubcommand command = table.find(args.getFirst());
        if (command == null) {
            session.out().println("command " + args.getFirst() + " not found");
            return false;
        }
        session.out().println(command.synopsis().helpLine());
        return true;
    }
}
