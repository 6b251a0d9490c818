package io.blockloop.engine;

/**
 * Runs {@link CompletionHandler}s so that one that throws cannot stop the others: the reaping call collects the
 * first throwable (later ones as suppressed) and rethrows it once its engine is consistent again.
 *
 * <p>Threads: stateless; used on the owner thread by the reaping calls.
 */
final class Handlers {
    private Handlers() {
    }

    /** Calls {@code handler}; returns {@code failure} with anything it threw added. */
    static Throwable invoke(CompletionHandler handler, long tag, long result, Throwable failure) {
        try {
            handler.complete(tag, result);
            return failure;
        } catch (Throwable t) {
            return add(failure, t);
        }
    }

    static Throwable add(Throwable failure, Throwable t) {
        if (failure == null) {
            return t;
        }
        if (failure != t) {
            failure.addSuppressed(t);
        }
        return failure;
    }

    /** Rethrows {@code failure} unchanged when unchecked; wraps a checked one (only possible by sneaky throws). */
    static void rethrow(Throwable failure) {
        if (failure == null) {
            return;
        }
        if (failure instanceof RuntimeException r) {
            throw r;
        }
        if (failure instanceof Error e) {
            throw e;
        }
        throw new IllegalStateException("completion handler failed", failure);
    }
}
