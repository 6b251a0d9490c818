package io.blockloop.engine;

/**
 * A blocking operation that {@link ThreadPoolEngine#submitCall} runs on a worker thread: QEMU's
 * {@code thread_pool_submit_aio(func, arg, ...)}, for work no kernel interface does asynchronously (discard,
 * write-zeroes, {@code fallocate}, ...).
 *
 * <p>Runs on a pool worker, never on the owner thread; it must not touch owner-thread state. Its return value is
 * delivered as the request's result. A call that throws completes with {@code -EIO}, and the throwable is rethrown
 * on the owner thread by the reaping call that delivered it.
 */
@FunctionalInterface
public interface BlockingCall {
    /** Does the work; returns a non-negative result or a negative errno. */
    long run();
}
