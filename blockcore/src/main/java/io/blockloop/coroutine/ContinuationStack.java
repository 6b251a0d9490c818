package io.blockloop.coroutine;

import jdk.internal.vm.Continuation;
import jdk.internal.vm.ContinuationScope;

/**
 * One resumable stack: the only class in BlockLoop that touches the JDK-internal
 * {@code jdk.internal.vm.Continuation} API (exported to the unnamed module with
 * {@code --add-exports java.base/jdk.internal.vm=ALL-UNNAMED}). Everything else in the coroutine package
 * speaks to this class only, so that swapping in a public JDK equivalent, when one exists, touches this file
 * alone.
 *
 * <p>A stack is created around a body that is expected never to return (a {@link Coroutine} runs a loop that
 * executes one entry per use and {@linkplain #suspend() suspends} when the entry terminates). {@link #resume()}
 * runs the body on the calling thread until it suspends; {@link #suspend()}, called from inside a body, returns
 * control to whoever resumed that stack. Stacks nest: resuming a stack from inside another one makes the inner
 * stack's suspension return to the outer body, not to the thread.
 *
 * <p>Threads: {@link #resume()} may be called from any thread, but by one thread at a time, and never while
 * the stack is running (the JDK rejects both); a suspended stack may be resumed later by a different thread.
 * {@link #suspend()} is called by the thread running the body. Memory ordering: this class adds none; the
 * JDK mounts and unmounts the frames on the resuming thread, and any hand-over of a suspended stack between
 * threads must be ordered by the caller (the coroutine scheduling paths publish with release/acquire or with
 * volatile read-modify-writes).
 */
final class ContinuationStack {
    /** The one scope of BlockLoop coroutines; {@link #suspend()} unwinds to the innermost stack of this scope. */
    private static final ContinuationScope SCOPE = new ContinuationScope("blockloop-coroutine");

    private final Frames continuation;

    /**
     * Creates a stack that will run {@code body} at its first {@link #resume()}; {@link #currentOwner()} returns
     * {@code owner} while the body runs. Any thread.
     */
    ContinuationStack(Object owner, Runnable body) {
        this.continuation = new Frames(body, owner);
    }

    /**
     * The JDK continuation, tagged with its owner so that the running one can be found without a thread-local.
     * Threads: as {@link ContinuationStack} (resumed by one thread at a time).
     */
    private static final class Frames extends Continuation {
        final Object owner;

        Frames(Runnable body, Object owner) {
            super(SCOPE, body);
            this.owner = owner;
        }

        @Override
        protected void onPinned(Continuation.Pinned reason) {
            throw new IllegalStateException("a coroutine cannot yield here: its stack is pinned to the thread ("
                    + reason + "; e.g. a native frame from an FFM upcall is on the stack)");
        }
    }

    /**
     * The owner of the innermost stack the calling thread is running, or null when it runs none. The JDK keeps the
     * mounted continuation in a field of the carrier thread, so this is a field load and a short walk to the
     * innermost continuation of our scope. Any thread (about itself).
     */
    static Object currentOwner() {
        Continuation c = Continuation.getCurrentContinuation(SCOPE);
        return c == null ? null : ((Frames) c).owner;
    }

    /**
     * Runs the body until it suspends (or returns, which a coroutine body never does). Called by the thread
     * that enters the coroutine; returns on that same thread.
     */
    void resume() {
        continuation.run();
    }

    /**
     * Suspends the innermost running stack and returns to the code that resumed it; returns when the stack is
     * resumed again (possibly on another thread). Called from inside a body only: callers check that first.
     *
     * @throws IllegalStateException if the stack is pinned to the thread (a native frame, e.g. of an FFM upcall,
     *                               is on it)
     */
    static void suspend() {
        Continuation.yield(SCOPE);
    }
}
