package io.blockloop.block.backend;

import io.blockloop.aio.AioContext;
import io.blockloop.aio.AioWait;
import io.blockloop.aio.MainLoop;
import io.blockloop.aio.Timer;
import io.blockloop.coroutine.Coroutine;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;

/**
 * The future of one {@link BlockBackend} asynchronous request, completed by the request's coroutine in the
 * context it was started in. Two things differ from a plain {@link CompletableFuture}:
 * <ul>
 *   <li><b>It cannot be cancelled.</b> A request handed to the block layer runs to its end (the kernel has the
 *       buffer), so {@link #cancel} changes nothing and answers false, as {@link java.util.concurrent.Future#cancel}
 *       allows: a cancelled future would tell its caller that the buffer is free while the kernel may still write
 *       it. Nor can its caller complete it: {@link #complete} and {@link #completeExceptionally} do nothing and
 *       answer false (they had done, with the request still in flight), and the methods that complete it
 *       later or by force ({@code orTimeout}, {@code obtrudeValue}, ...) throw
 *       {@link UnsupportedOperationException}.</li>
 *   <li><b>{@link #join} and {@link #get} wait in the way the calling thread allows.</b> On the home thread of
 *       the request's context, a plain wait stopped the only thread that could complete the request, and the
 *       thread hung for good (a {@code thenRun} callback that joined another request of the same backend did
 *       exactly that). So: in a coroutine (where such callbacks run: a request's future completes in its
 *       coroutine) they yield until the request's completion wakes them, as the co* methods do; elsewhere on the
 *       request's loop thread, and on the main loop's thread, they poll that loop until the request is done
 *       (QEMU's {@code BDRV_POLL_WHILE}), as the blocking API does; on the loop thread of any other context they
 *       throw {@link IllegalStateException} at once, as the blocking API does: two loops waiting for each other
 *       never wake. Any other thread blocks as usual.</li>
 * </ul>
 * Dependent stages ({@code thenApply}, ...) are ordinary {@link CompletableFuture}s: they may wait for other
 * futures too, so nothing can tell whether waiting for them on a loop thread would end.
 *
 * <p>Threads: as {@link CompletableFuture}; completed by the request's context. The waits' condition reads the
 * future's state with {@link #isDone()} (a volatile read), which pairs with the completing thread's volatile
 * write of the result; the completing coroutine then {@linkplain AioWait#kick() kicks} a waiting main loop.
 */
final class RequestFuture<T> extends CompletableFuture<T> {
    private final AioContext ctx;
    /** The backend's name, for refusals: the message is built only when one is thrown. */
    private final String backend;

    /** A future for a request of backend {@code backend} started in {@code ctx}. */
    RequestFuture(AioContext ctx, String backend) {
        this.ctx = ctx;
        this.backend = backend;
    }

    /** Completes the future when the request ended well: the request's coroutine only. */
    void succeed() {
        super.complete(null);
    }

    /** Completes the future with the request's failure: the request's coroutine only. */
    void fail(Throwable failure) {
        super.completeExceptionally(failure);
    }

    /** Does nothing: the request goes on. Returns false. */
    @Override
    public boolean cancel(boolean mayInterruptIfRunning) {
        return false;
    }

    /** Does nothing, as {@link #cancel}: only the request's end completes the future. Returns false. */
    @Override
    public boolean complete(T value) {
        return false;
    }

    /** Does nothing, as {@link #cancel}: only the request's end completes the future. Returns false. */
    @Override
    public boolean completeExceptionally(Throwable ex) {
        return false;
    }

    /** Refused: only the request's end completes the future. */
    @Override
    public void obtrudeValue(T value) {
        throw endsOnlyWithTheRequest("obtrudeValue");
    }

    /** Refused: only the request's end completes the future. */
    @Override
    public void obtrudeException(Throwable ex) {
        throw endsOnlyWithTheRequest("obtrudeException");
    }

    /** Refused: only the request's end completes the future. */
    @Override
    public CompletableFuture<T> completeAsync(Supplier<? extends T> supplier, Executor executor) {
        throw endsOnlyWithTheRequest("completeAsync");
    }

    /** Refused: only the request's end completes the future. */
    @Override
    public CompletableFuture<T> completeAsync(Supplier<? extends T> supplier) {
        throw endsOnlyWithTheRequest("completeAsync");
    }

    /** Refused: only the request's end completes the future; {@link #get(long, TimeUnit)} waits with a limit. */
    @Override
    public CompletableFuture<T> orTimeout(long timeout, TimeUnit unit) {
        throw endsOnlyWithTheRequest("orTimeout");
    }

    /** Refused: only the request's end completes the future; {@link #get(long, TimeUnit)} waits with a limit. */
    @Override
    public CompletableFuture<T> completeOnTimeout(T value, long timeout, TimeUnit unit) {
        throw endsOnlyWithTheRequest("completeOnTimeout");
    }

    private UnsupportedOperationException endsOnlyWithTheRequest(String method) {
        return new UnsupportedOperationException(method + " on the future of a request on '" + backend + "': it"
                + " completes only when the request ends, since until then the kernel may use the buffer; wait with"
                + " get(timeout, unit), or on a dependent stage (thenApply, ...)");
    }

    @Override
    public T join() {
        awaitDone();
        return super.join();
    }

    @Override
    public T get() throws InterruptedException, ExecutionException {
        awaitDone();
        return super.get();
    }

    @Override
    public T get(long timeout, TimeUnit unit) throws InterruptedException, ExecutionException, TimeoutException {
        long timeoutNs = unit.toNanos(timeout);
        if (isDone()) {
            return super.get();
        }
        if (timeoutNs <= 0) {
            // Run out at once, as CompletableFuture's and AioWait's own timeouts. In a coroutine a negative timeout
            // meant none (yieldUntilDone's), and the call waited until the request ended.
            return super.get(0, TimeUnit.NANOSECONDS);
        }
        if (Coroutine.inCoroutine()) {
            yieldUntilDone(timeoutNs);
            return super.get(0, TimeUnit.NANOSECONDS); // done, or a TimeoutException
        }
        if (pollsWhileWaiting()) {
            AioWait.waitWhile(ctx, () -> !isDone(), timeoutNs);
            return super.get(0, TimeUnit.NANOSECONDS);
        }
        return super.get(timeout, unit);
    }

    /** Waits until the request is done, in the way the calling thread allows (see the class comment). */
    private void awaitDone() {
        if (isDone()) {
            return;
        }
        if (Coroutine.inCoroutine()) {
            yieldUntilDone(-1);
        } else if (pollsWhileWaiting()) {
            AioWait.waitWhile(ctx, () -> !isDone());
        }
    }

    /**
     * In a coroutine: yields until the request is done or {@code timeoutNs} (negative: none) passed. A coroutine
     * must not block its thread, which may be the very one that completes the request, nor poll a loop inside
     * a coroutine; it is woken instead, once, by whichever comes first: the completion or a timer of its context.
     */
    private void yieldUntilDone(long timeoutNs) {
        Coroutine self = Coroutine.self();
        AioContext home = self.context();
        if (timeoutNs >= 0 && home == null) {
            throw new IllegalStateException("get with a timeout of a request on '" + backend + "' in " + self
                    + ", which runs in no AioContext: nothing could time it out; use join()");
        }
        AtomicBoolean woken = new AtomicBoolean(); // the first of completion and timer wakes it, the other nothing
        Runnable wakeOnce = () -> {
            if (woken.compareAndSet(false, true)) {
                self.wake();
            }
        };
        Timer timer = null;
        if (timeoutNs >= 0) {
            timer = home.newTimer("request-wait", wakeOnce);
            timer.modAfterNs(timeoutNs);
        }
        whenComplete((result, failure) -> wakeOnce.run());
        try {
            do {
                Coroutine.yield();
            } while (!woken.get()); // a stray enter does not end the wait
        } finally {
            if (timer != null) {
                timer.delete();
            }
        }
    }

    /**
     * Outside a coroutine: whether the calling thread must poll a loop while it waits (the request's own loop, or
     * the main loop); false when it may simply block. Throws on another context's loop thread.
     */
    private boolean pollsWhileWaiting() {
        if (ctx.inHomeThread() || MainLoop.isMainThread()) {
            return true;
        }
        AioContext running = AioContext.current();
        if (running != null) {
            throw new IllegalStateException("waiting for a request on '" + backend + "' (context '" + ctx.name()
                    + "') on the loop thread of context '" + running.name() + "': waiting would stop that loop, "
                    + "and two loops waiting for each other never wake; use a callback or the co* methods there");
        }
        return false;
    }
}
