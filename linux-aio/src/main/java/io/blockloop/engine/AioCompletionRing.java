package io.blockloop.engine;

import io.blockloop.ffm.libaio.AioRing;
import io.blockloop.ffm.libaio.IoEvent;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The kernel's linux-aio completion ring ({@code struct aio_ring} in {@code fs/aio.c}) read from userspace, so
 * completions are reaped without {@code io_getevents} — what QEMU's {@code io_getevents_peek}/{@code commit}
 * and fio's {@code userspace_reap} do. Usable only when the header is one this code understands:
 * {@link AioRing#MAGIC} and {@code incompat_features == 0}; {@link #attach} returns null otherwise.
 *
 * <p>Protocol: the kernel is the only producer. {@code aio_complete()} writes the {@code io_event} at
 * {@code tail}, issues {@code smp_wmb()}, then stores the new {@code tail}. We are the consumer: acquire-load
 * {@code tail}, read the events from {@code head} up to it, then release-store the new {@code head}. The kernel
 * reads {@code head} (in {@code aio_complete()} and {@code user_refill_reqs_available()}, under
 * {@code ctx->completion_lock}) to know which slots it may reuse.
 *
 * <p>Threads: owner thread only. {@code io_getevents} (which the engine still uses to block) moves {@code head}
 * in the kernel, but it runs on the owner thread too, so program order covers it; {@code head} is never cached.
 */
final class AioCompletionRing {
    private static final VarHandle INT = JAVA_INT.varHandle();

    private final MemorySegment ring;
    private final int nr;

    private AioCompletionRing(MemorySegment ring, int nr) {
        this.ring = ring;
        this.nr = nr;
    }

    /** The ring of the context {@code ctx} (the address {@code io_setup} returned), or null if unusable. */
    @SuppressWarnings("restricted")
    static AioCompletionRing attach(long ctx) {
        MemorySegment header = MemorySegment.ofAddress(ctx).reinterpret(AioRing.HEADER_SIZE);
        if (header.get(JAVA_INT, AioRing.OFFSET_MAGIC) != AioRing.MAGIC
                || header.get(JAVA_INT, AioRing.OFFSET_INCOMPAT_FEATURES) != 0) {
            return null;
        }
        int nr = header.get(JAVA_INT, AioRing.OFFSET_NR);
        if (nr <= 0) {
            return null;
        }
        return new AioCompletionRing(
                MemorySegment.ofAddress(ctx).reinterpret(AioRing.HEADER_SIZE + nr * IoEvent.SIZE), nr);
    }

    /** Number of event slots (what the kernel made of the {@code io_setup} size: larger, see README). */
    int size() {
        return nr;
    }

    /** The next slot to consume. Plain load: only this thread (or its own io_getevents syscall) moves it. */
    int head() {
        return ring.get(JAVA_INT, AioRing.OFFSET_HEAD);
    }

    /**
     * The slot after the last published event. Acquire: pairs with the {@code smp_wmb()} in {@code aio_complete()}
     * that orders the kernel's write of the {@code io_event} before its store of {@code ring->tail}, so the event
     * fields read after this load are the completed ones.
     */
    int tailAcquire() {
        return (int) INT.getAcquire(ring, AioRing.OFFSET_TAIL);
    }

    /**
     * Hands the slots before {@code head} back to the kernel. Release: our reads of those events happen before the
     * kernel can observe the new head; pairs with the kernel's read of {@code ring->head} in {@code aio_complete()}
     * / {@code user_refill_reqs_available()}, after which it may refill {@code reqs_available} and overwrite the
     * slots.
     */
    void headRelease(int head) {
        INT.setRelease(ring, AioRing.OFFSET_HEAD, head);
    }

    /** The slot after {@code slot}, wrapping at {@link #size()}. */
    int next(int slot) {
        int n = slot + 1;
        return n == nr ? 0 : n;
    }

    /** The {@code aio_data} of the event in {@code slot} (the request's slot index). */
    long data(int slot) {
        return ring.get(JAVA_LONG, AioRing.HEADER_SIZE + slot * IoEvent.SIZE);
    }

    /** The {@code res} of the event in {@code slot}: bytes transferred or a negative errno. */
    long res(int slot) {
        return ring.get(JAVA_LONG, AioRing.HEADER_SIZE + slot * IoEvent.SIZE + 16);
    }
}
