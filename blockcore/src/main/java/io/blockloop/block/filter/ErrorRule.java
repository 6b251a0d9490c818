package io.blockloop.block.filter;

import java.util.Collections;
import java.util.EnumSet;
import java.util.Objects;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * What {@link ErrorInjectionDriver} fails (one QEMU {@code blkdebug} {@code inject-error} rule): requests of the
 * given {@link #kinds()}, optionally only those overlapping the byte range {@code [offset, offset + length)},
 * complete with {@code -errno} instead of reaching the child. The first {@link #afterRequests()} matching
 * requests pass; with {@link #once()} only one request fails, and the rule is spent.
 *
 * <p>A flush has no byte range: a rule with a range never matches a flush.
 *
 * <p>Immutable value; any thread. Build one with {@link #fail} and the {@code with}-style methods:
 * {@code ErrorRule.fail(Errno.EIO, RequestKind.READ).inRange(65536, 4096).after(3).onlyOnce()}.
 *
 * @param kinds         the operations the rule applies to (not empty)
 * @param errno         the error to report, 1 to {@link #MAX_ERRNO} ({@code Errno.EIO}, {@code Errno.ENOSPC}, ...)
 * @param offset        start of the byte range, or {@link #ANY_OFFSET} for every request
 * @param length        length of the byte range ({@code > 0}), or 0 with {@link #ANY_OFFSET}
 * @param afterRequests how many matching requests pass before the rule starts failing them ({@code >= 0})
 * @param once          fail one request only
 */
public record ErrorRule(Set<RequestKind> kinds, int errno, long offset, long length, long afterRequests,
                        boolean once) {
    /** {@link #offset()} of a rule that matches requests anywhere. */
    public static final long ANY_OFFSET = -1;
    /** The largest errno value Linux can return from a system call ({@code MAX_ERRNO}). */
    public static final int MAX_ERRNO = 4095;

    public ErrorRule {
        Objects.requireNonNull(kinds, "kinds");
        if (kinds.isEmpty()) {
            throw new IllegalArgumentException("an error rule needs at least one request kind");
        }
        kinds = Collections.unmodifiableSet(EnumSet.copyOf(kinds));
        if (errno <= 0 || errno > MAX_ERRNO) {
            // Above 4095 a request's result would not read as an error where results are checked as the kernel's
            // are (-4095..-1: IS_ERR_VALUE), and strerror has no name for it.
            throw new IllegalArgumentException("errno must be in 1.." + MAX_ERRNO + " (Errno.EIO, ...), not " + errno);
        }
        if (offset == ANY_OFFSET ? length != 0 : offset < 0 || length <= 0 || offset > Long.MAX_VALUE - length) {
            throw new IllegalArgumentException("bad error rule range: offset " + offset + ", length " + length);
        }
        if (afterRequests < 0) {
            throw new IllegalArgumentException("afterRequests must not be negative: " + afterRequests);
        }
    }

    /** A rule failing every request of the given kinds with {@code errno}, from the first one on, for ever. */
    public static ErrorRule fail(int errno, RequestKind kind, RequestKind... more) {
        return new ErrorRule(EnumSet.of(kind, more), errno, ANY_OFFSET, 0, 0, false);
    }

    /** This rule restricted to requests overlapping {@code [offset, offset + length)}. */
    public ErrorRule inRange(long offset, long length) {
        return new ErrorRule(kinds, errno, offset, length, afterRequests, once);
    }

    /** This rule letting the first {@code requests} matching requests pass. */
    public ErrorRule after(long requests) {
        return new ErrorRule(kinds, errno, offset, length, requests, once);
    }

    /** This rule failing a single request. */
    public ErrorRule onlyOnce() {
        return new ErrorRule(kinds, errno, offset, length, afterRequests, true);
    }

    /** Whether a request of {@code kind} on {@code [at, at + bytes)} is one this rule is about. */
    public boolean matches(RequestKind kind, long at, long bytes) {
        if (!kinds.contains(kind)) {
            return false;
        }
        return offset == ANY_OFFSET || (at < offset + length && offset < at + bytes);
    }

    @Override
    public String toString() {
        return kinds.stream().map(RequestKind::label).collect(Collectors.joining("+")) + " -> errno " + errno
                + (offset == ANY_OFFSET ? "" : " in [" + offset + ", " + (offset + length) + ")")
                + (afterRequests == 0 ? "" : " after " + afterRequests)
                + (once ? " once" : "");
    }
}
