package io.blockloop.cli.io;

import java.util.List;

/**
 * One command of the {@code -c} script (qemu-io's {@code cmdinfo_t} with its {@code cfunc}). Commands print what
 * qemu-io prints, on {@link IoSession#out()}, and report whether they succeeded; an asynchronous command
 * succeeds when its request is issued, and its completion is accounted by the session.
 *
 * <p>Threads: the main loop's thread, one command at a time.
 */
sealed interface IoSubcommand permits ReadCommand, ReadvCommand, WriteCommand, WritevCommand, AioReadCommand,
        AioWriteCommand, AioFlushCommand, FlushCommand, DiscardCommand, LengthCommand, InfoCommand, HelpCommand {

    Synopsis synopsis();

    /**
     * Runs the command.
     *
     * @param session the open image and the output streams
     * @param typed   the name as typed (an alias such as {@code r} is shown in getopt's messages)
     * @param args    the words after the name
     * @return whether the command succeeded
     * @throws ArgumentError when the arguments are refused before any I/O
     */
    boolean run(IoSession session, String typed, List<String> args) throws ArgumentError;
}
