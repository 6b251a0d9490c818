package io.blockloop.aio;

/**
 * An exception thrown by a callback that the loop caught, reported and survived.
 *
 * @param context the context's name
 * @param kind    {@code "bottom half"}, {@code "timer"}, {@code "fd read"}, {@code "fd write"}, ...
 * @param name    the BH or timer name, or {@code "fd N"}
 * @param error   what was thrown
 *
 * <p>Immutable value; any thread.
 */
public record CallbackFailure(String context, String kind, String name, Throwable error) {
    @Override
    public String toString() {
        return kind + " '" + name + "' in context '" + context + "' threw " + error;
    }
}
