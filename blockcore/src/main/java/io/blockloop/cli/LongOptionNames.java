package io.blockloop.cli;

import java.util.Collection;
import java.util.List;

/**
 * getopt_long's rule for long option names, shared by {@code io}'s and {@code bench}'s parsers: a name stands for
 * itself, and any other non-empty text for every name it is a prefix of (the caller decides what several mean).
 *
 * <p>Stateless; any thread.
 */
public final class LongOptionNames {
    private LongOptionNames() {
    }

    /**
     * {@code given} alone when it is one of {@code names}; otherwise the names it abbreviates, sorted (none for
     * empty text).
     */
    public static List<String> matching(String given, Collection<String> names) {
        if (names.contains(given)) {
            return List.of(given);
        }
        if (given.isEmpty()) {
            return List.of();
        }
        return names.stream().filter(n -> n.startsWith(given)).sorted().toList();
    }
}
