package io.blockloop.block;

import java.util.Objects;
import java.util.function.Consumer;

/**
 * Where the block layer says things a user should know but that do not fail the operation, as one line each
 * ("aio=io_uring is not available here (...); using threads"): standard error by default, replaceable so tests and
 * embedding applications can collect them. Any thread; the sink must be thread-safe.
 */
public final class Warnings {
    /** Volatile: redirect()'s store pairs with emit()'s load, so every thread emits to the latest sink, fully built. */
    private static volatile Consumer<String> sink = line -> System.err.println("blockloop: warning: " + line);

    private Warnings() {
    }

    /** Emits one warning line. */
    public static void emit(String line) {
        sink.accept(line);
    }

    /** Replaces the sink; returns the previous one so a test can restore it. */
    public static Consumer<String> redirect(Consumer<String> newSink) {
        Consumer<String> old = sink;
        sink = Objects.requireNonNull(newSink, "newSink");
        return old;
    }
}
