package io.blockloop.cli.io;

import io.blockloop.cli.CommandFailure;
import io.blockloop.cli.ImageArguments;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The command line of {@code blockloop io} (qemu-io's options, the subset BlockLoop has):
 * {@code [-f FMT] [-t CACHE] [-i AIO] [-k] [-n] [-r] [-U] [-m] -c CMD ... FILE}, with qemu-io's long forms
 * ({@code --format}, {@code --cache}, {@code --aio}, {@code --native-aio}, {@code --nocache},
 * {@code --read-only}, {@code --force-share}, {@code --misalign}, {@code --cmd}). As in qemu-io the cache mode
 * defaults to {@code writeback} and {@code -n} means {@code -t none} (O_DIRECT). With {@code -f null}, FILE is
 * the size of the null device ({@code 1G}).
 *
 * <p>Immutable value ({@link #parse} stores an unmodifiable copy of the commands); any thread.
 *
 * @param image    how to open the image
 * @param misalign {@code -m}: buffers start 16 bytes past an aligned address
 * @param commands the {@code -c} scripts, in order
 * @param file     the image (or the null device's size)
 */
record IoOptions(ImageArguments image, boolean misalign, List<String> commands, String file) {
    static final String USAGE = "usage: blockloop io [-f FMT] [-t CACHE] [-i AIO] [-n] [-r] [-U] [-m] -c CMD ... FILE";

    private static final String SHORT_OPTIONS = "c:f:hi:kmnrt:U";
    private static final Map<String, Character> LONG_OPTIONS = Map.ofEntries(
            Map.entry("cmd", 'c'), Map.entry("format", 'f'), Map.entry("help", 'h'), Map.entry("aio", 'i'),
            Map.entry("native-aio", 'k'), Map.entry("misalign", 'm'), Map.entry("nocache", 'n'),
            Map.entry("read-only", 'r'), Map.entry("cache", 't'), Map.entry("force-share", 'U'));

    /**
     * Parses the words after {@code io}; null when {@code -h} asked for the usage.
     *
     * @throws CommandFailure (usage) for an unknown option, a bad value, no command or not exactly one FILE
     */
    static IoOptions parse(List<String> args) throws CommandFailure {
        ImageArguments image = ImageArguments.defaults().withCache("writeback");
        boolean misalign = false;
        List<String> commands = new ArrayList<>();
        OptionScanner options = new OptionScanner("io", args, SHORT_OPTIONS, LONG_OPTIONS);
        for (int c = options.next(); c != OptionScanner.END; c = options.next()) {
            try {
                switch (c) {
                    case 'c' -> commands.add(options.argument());
                    case 'f' -> image = image.withFormat(options.argument());
                    case 'h' -> {
                        return null;
                    }
                    case 'i' -> image = image.withAio(options.argument());
                    case 'k' -> image = image.withAio("native");
                    case 'm' -> misalign = true;
                    case 'n' -> image = image.withCache("none");
                    case 'r' -> image = image.withReadOnly(true);
                    case 't' -> image = image.withCache(options.argument());
                    case 'U' -> image = image.withForceShare(true);
                    default -> throw CommandFailure.usage(options.error() + " (" + USAGE + ")");
                }
            } catch (CommandFailure f) {
                throw f.getMessage().startsWith("io: ") ? f : CommandFailure.usage("io: " + f.getMessage());
            }
        }
        List<String> files = options.operands();
        if (files.size() != 1) {
            throw CommandFailure.usage("io: " + (files.isEmpty() ? "no FILE given" : "one FILE only, got "
                    + String.join(" ", files)) + " (" + USAGE + ")");
        }
        if (commands.isEmpty()) {
            throw CommandFailure.usage("io: no command given: add -c CMD (" + USAGE + ")");
        }
        if (image.forceShare() && !image.readOnly()) {
            throw CommandFailure.usage("io: -U (force-share) needs a read-only image (-r)");
        }
        if (image.format().equals("null")) {
            ImageArguments.nullDeviceSize("io", files.getFirst()); // a usage mistake, reported before opening
        }
        return new IoOptions(image, misalign, List.copyOf(commands), files.getFirst());
    }
}
