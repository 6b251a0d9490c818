package io.blockloop.block.backend;

import java.util.concurrent.CompletableFuture;

/**
 * The future of a {@link BlockBackend} asynchronous request. A request handed to the block layer runs to its end
 * (the kernel has the buffer), so {@link #cancel} changes nothing and answers false, as {@link
 * java.util.concurrent.Future#cancel} allows: a cancelled future would tell its caller that the buffer is free
 * while the kernel may still write it. Dependent stages are ordinary {@link CompletableFuture}s.
 *
 * <p>Threads: as {@link CompletableFuture}; completed by the backend's context.
 */
final class UncancellableFuture<T> extends CompletableFuture<T> {
    /** Does nothing: the request goes on. Returns false. */
    @Override
    public boolean cancel(boolean mayInterruptIfRunning) {
        return false;
    }
}
