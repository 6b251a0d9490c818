package io.blockloop.engine;

/**
 * Receives the outcome of one request submitted to an {@link IoEngine}.
 *
 * <p>Called exactly once per accepted request, on the engine's owner thread, from inside
 * {@link IoEngine#processCompletions()}, {@link IoEngine#poll()}, {@link IoEngine#awaitCompletions(long)} or
 * {@link IoEngine#close()} — never from inside the submitting call and never from another thread. By the time
 * it runs, the engine has already forgotten the request, so the handler may submit new requests (they are
 * batched with the other submissions of the same reaping pass) and may reuse the buffers at once.
 *
 * <p>A handler that throws does not disturb the engine: the remaining completions are still delivered, and the
 * first throwable is rethrown by the reaping call once it has finished (later ones are attached as suppressed).
 */
@FunctionalInterface
public interface CompletionHandler {
    /**
     * @param tag    the opaque value passed with the request (an index into the caller's table of waiting
     *               coroutines, for instance), so the caller finds its context without allocating
     * @param result the byte count for reads and writes (always the full requested length; see
     *               {@link IoEngine}), 0 for flushes, or a negative errno ({@code -EIO}, {@code -ENOSPC},
     *               {@code -ECANCELED}, ...)
     */
    void complete(long tag, long result);
}
