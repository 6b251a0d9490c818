package io.blockloop.coroutine;

/**
 * Reports a coroutine that a lock handed itself to but that cannot be woken, because its context is closing (its
 * IOThread stopped with the coroutine still waiting: a coroutine parked in a closing context is lost, README "Known
 * limits"). The lock then treats it as having taken the lock and released it at once, and goes on to the next
 * waiter; before, the hand-off threw out of the unlock with the lock counted as taken by the lost coroutine, and
 * every later locker, in healthy contexts too, waited for ever.
 *
 * <p>Reported, not thrown: the unlock that meets it has done its job, and its caller may be in the middle of
 * something an exception would break ({@link CoQueue#await(CoMutex)} has queued it already, an admitted
 * {@link CoRwLock} reader admits the next one). Logged at ERROR on the logger of {@link Coroutine}, where a body
 * that ended holding locks is reported too. Any thread.
 */
final class LostWaiters {
    private static final System.Logger LOG = System.getLogger(Coroutine.class.getName());

    private LostWaiters() {
    }

    static void report(Object lock, Coroutine waiter, IllegalStateException refused) {
        LOG.log(System.Logger.Level.ERROR, lock + ": " + waiter + " was handed the lock but cannot be woken ("
                + refused.getMessage() + "); it is lost, and the lock goes on to the next waiter", refused);
    }

    /** The same for a {@link CoQueue}: {@link CoQueue#next()} restarted {@code waiter}, and goes on to the next. */
    static void reportRestart(CoQueue queue, Coroutine waiter, IllegalStateException refused) {
        LOG.log(System.Logger.Level.ERROR, queue + ": " + waiter + " was restarted but cannot be woken ("
                + refused.getMessage() + "); it is lost, and the restart goes to the next waiter", refused);
    }
}
