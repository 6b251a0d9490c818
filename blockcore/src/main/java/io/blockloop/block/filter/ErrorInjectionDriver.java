package io.blockloop.block.filter;

import io.blockloop.block.BlockChild;
import io.blockloop.block.IoVector;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The {@code blkdebug} filter driver (QEMU's {@code block/blkdebug.c}, its error-injection part): a pass-through
 * to its {@code file} child that fails chosen requests with a chosen errno, for tests of error paths.
 *
 * <p>Each request is checked against the armed {@link ErrorRule}s in the order they were added: every rule whose
 * kinds and range match counts the request, and the first one that decides to fail it (its
 * {@linkplain ErrorRule#afterRequests() pass count} is used up; a once-rule not yet spent) completes it with
 * {@code -errno} without reaching the child; later rules do not see it. A once-rule that fired is removed.
 * Requests no rule fails go to the child unchanged. The request reaching this driver is the one the node's
 * generic path made of the caller's: padded to the child's alignment and split at its maximum transfer, like
 * QEMU's. Two things of that path show through: a flush reaches the driver only if something was written through
 * the node since the last successful flush, and a discard failed with {@code EOPNOTSUPP} counts as done (the
 * generic path treats discard as advisory).
 *
 * <h2>Threads</h2>
 * I/O methods: coroutines on the node's home thread, as every driver. {@link #addRule}, {@link #removeRule},
 * {@link #clearRules}, {@link #rules()} and the counters: any thread, at any time, also while requests run, so a
 * test can inject errors into I/O in progress. A rule added (removed) by a thread applies to every request that
 * starts being checked after the call returns; a request already being checked may or may not see it.
 *
 * <h2>Memory ordering</h2>
 * The rule list is an immutable {@link List} behind an {@link AtomicReference}: writers swap in a new list by CAS,
 * the request path reads it with one volatile load, so it sees fully built rules. Counters are atomics
 * ({@link ArmedErrorRule}, {@link #injectedErrors(RequestKind)}).
 */
public final class ErrorInjectionDriver implements FilterDriver {
    private final BlockChild file;
    private final AtomicReference<List<ArmedErrorRule>> rules = new AtomicReference<>(List.of());
    private final AtomicLongArray injected = new AtomicLongArray(RequestKind.values().length);

    private ErrorInjectionDriver(BlockChild file) {
        this.file = file;
    }

    /**
     * An error-injection filter over {@code file}'s node, with no rule armed (it passes everything through).
     * Main loop.
     */
    public static ErrorInjectionDriver open(BlockChild file) {
        return new ErrorInjectionDriver(Objects.requireNonNull(file, "file"));
    }

    @Override
    public BlockChild file() {
        return file;
    }

    // ------------------------------------------------------------------ rules (any thread)

    /** Arms {@code rule} after the rules already armed; returns its handle. Any thread. */
    public ArmedErrorRule addRule(ErrorRule rule) {
        ArmedErrorRule armed = new ArmedErrorRule(Objects.requireNonNull(rule, "rule"));
        rules.updateAndGet(current -> {
            List<ArmedErrorRule> next = new ArrayList<>(current.size() + 1);
            next.addAll(current);
            next.add(armed);
            return List.copyOf(next);
        });
        return armed;
    }

    /**
     * Disarms {@code armed}; returns whether it was armed (false: removed before, or a once-rule that fired). Any
     * thread.
     */
    public boolean removeRule(ArmedErrorRule armed) {
        List<ArmedErrorRule> current;
        List<ArmedErrorRule> next;
        do {
            current = rules.get();
            if (!current.contains(armed)) {
                return false;
            }
            next = current.stream().filter(r -> r != armed).toList();
        } while (!rules.compareAndSet(current, next));
        return true;
    }

    /** Disarms every rule. Any thread. */
    public void clearRules() {
        rules.set(List.of());
    }

    /** The armed rules, in the order they are checked. Any thread (a snapshot). */
    public List<ArmedErrorRule> rules() {
        return rules.get();
    }

    /** Requests failed by injection so far, all kinds. Any thread. */
    public long injectedErrors() {
        long sum = 0;
        for (int i = 0; i < injected.length(); i++) {
            sum += injected.get(i);
        }
        return sum;
    }

    /** Requests of {@code kind} failed by injection so far. Any thread. */
    public long injectedErrors(RequestKind kind) {
        return injected.get(kind.ordinal());
    }

    /** 0 to let the request pass, or the negative errno of the first rule that fails it. Home thread. */
    private int inject(RequestKind kind, long offset, long bytes) {
        List<ArmedErrorRule> current = rules.get(); // volatile load: pairs with the writers' CAS
        for (int i = 0, n = current.size(); i < n; i++) {
            ArmedErrorRule rule = current.get(i);
            int errno = rule.check(kind, offset, bytes);
            if (errno != 0) {
                if (rule.rule().once()) {
                    removeRule(rule);
                }
                injected.incrementAndGet(kind.ordinal());
                return -errno;
            }
        }
        return 0;
    }

    // ------------------------------------------------------------------ BlockDriver

    @Override
    public String formatName() {
        return "blkdebug";
    }

    @Override
    public int coPreadv(long offset, long bytes, IoVector qiov, int flags) {
        int ret = inject(RequestKind.READ, offset, bytes);
        return ret != 0 ? ret : file.node().coPreadv(offset, bytes, qiov, flags);
    }

    @Override
    public int coPwritev(long offset, long bytes, IoVector qiov, int flags) {
        int ret = inject(RequestKind.WRITE, offset, bytes);
        return ret != 0 ? ret : file.node().coPwritev(offset, bytes, qiov, flags);
    }

    @Override
    public int coFlush() {
        int ret = inject(RequestKind.FLUSH, 0, 0);
        return ret != 0 ? ret : file.node().coFlush();
    }

    @Override
    public int coPdiscard(long offset, long bytes) {
        int ret = inject(RequestKind.DISCARD, offset, bytes);
        return ret != 0 ? ret : file.node().coPdiscard(offset, bytes);
    }

    @Override
    public int coPwriteZeroes(long offset, long bytes, int flags) {
        int ret = inject(RequestKind.WRITE_ZEROES, offset, bytes);
        return ret != 0 ? ret : file.node().coPwriteZeroes(offset, bytes, flags);
    }


    @Override
    public List<String> describe() {
        List<String> lines = new ArrayList<>();
        List<ArmedErrorRule> current = rules.get();
        lines.add("rules: " + current.size());
        for (ArmedErrorRule rule : current) {
            lines.add("rule: " + rule);
        }
        lines.add("injected errors: " + injectedErrors());
        return lines;
    }

    @Override
    public void close() {
    }
}
