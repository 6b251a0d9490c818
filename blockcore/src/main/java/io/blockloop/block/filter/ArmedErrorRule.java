package io.blockloop.block.filter;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * An {@link ErrorRule} installed in an {@link ErrorInjectionDriver}, with its counters: how many requests it
 * matched and how many it failed. The handle {@link ErrorInjectionDriver#addRule} returns and
 * {@link ErrorInjectionDriver#removeRule} takes.
 *
 * <p>Threads: {@link #check} runs on the node's home thread (one request at a time, but the node may move to
 * another thread); the getters may be called from any thread. The counters are atomics, so a reader sees every
 * count made before it; {@code spent} is claimed by a CAS, so a once-rule fails exactly one request even if it
 * were checked from two threads.
 */
public final class ArmedErrorRule {
    private final ErrorRule rule;
    private final AtomicLong matched = new AtomicLong();
    private final AtomicLong injected = new AtomicLong();
    private final AtomicBoolean spent = new AtomicBoolean();

    ArmedErrorRule(ErrorRule rule) {
        this.rule = rule;
    }

    public ErrorRule rule() {
        return rule;
    }

    /** Requests that matched the rule's kinds and range while it was armed (failed or not). Any thread. */
    public long matchedRequests() {
        return matched.get();
    }

    /** Requests this rule failed. Any thread. */
    public long injectedErrors() {
        return injected.get();
    }

    /** Whether this is a {@linkplain ErrorRule#once() once} rule that has already failed its request. Any thread. */
    public boolean isSpent() {
        return spent.get();
    }

    /**
     * Counts the request if it matches and decides its fate: the positive errno to fail it with, or 0 to let it
     * pass. Home thread of the node.
     */
    int check(RequestKind kind, long offset, long bytes) {
        if (!rule.matches(kind, offset, bytes) || spent.get()) {
            return 0;
        }
        if (matched.getAndIncrement() < rule.afterRequests()) {
            return 0;
        }
        if (rule.once() && !spent.compareAndSet(false, true)) {
            return 0;
        }
        injected.incrementAndGet();
        return rule.errno();
    }

    @Override
    public String toString() {
        return rule + " (matched " + matchedRequests() + ", failed " + injectedErrors() + (isSpent() ? ", spent" : "")
                + ")";
    }
}
