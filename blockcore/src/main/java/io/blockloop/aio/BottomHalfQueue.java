package io.blockloop.aio;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The BH queue of one context: a lock-free stack that any thread pushes onto, and the home thread's list of
 * <em>slices</em> (QEMU's {@code bh_list} and {@code bh_slice_list}).
 *
 * <p>A pass ({@link #runPass}) steals the whole stack with one atomic swap, so BHs scheduled while it runs land
 * on the now-empty stack and wait for the next pass. The stolen BHs (reversed into scheduling order) become a
 * slice appended to the slice list, and the pass then drains slices from the <em>front</em>. A BH callback that
 * runs a nested event loop therefore runs a nested pass that also drains the outer pass's unfinished slice:
 * every pending BH runs exactly once, and the outer pass finds nothing left when the callback returns.
 *
 * <p>When the context closes, the queue is <em>sealed</em> ({@link #seal()}): the head becomes {@link #SEALED}, a
 * marker no push can replace, so every push from then on is refused and its caller told, while every push before
 * it is in the queue for a last pass or for the close's leak report. The marker is the whole mechanism: a separate
 * "closed" flag checked before the push would let a push that passed the check land after the last look.
 *
 * <p>Threads: {@link #push} and {@link #isSealed()} any thread; everything else the home thread. Memory ordering:
 * {@link #push} links the BH with a plain store and publishes it with a volatile CAS of the head; {@link #runPass}
 * takes the stack with a volatile {@code getAndSet}, which pairs with that CAS (the links and the BH's flags are
 * visible); {@link #seal()} does the same with {@link #SEALED} as the new head. {@link #timeoutNs()} walks the
 * stack from an acquire load of the head; links of published BHs never change until the home thread itself steals
 * them.
 */
final class BottomHalfQueue {
    /** How long an idle BH may wait at most: it is polled at least every 10 ms. */
    static final long IDLE_TIMEOUT_NS = 10_000_000L;

    private static final VarHandle HEAD;
    /** The head of a sealed queue: never run, never linked to anything, only compared with. */
    private static final BottomHalf SEALED = new BottomHalf(null, "sealed", () -> { }, 0);

    static {
        try {
            HEAD = MethodHandles.lookup().findVarHandle(BottomHalfQueue.class, "head", BottomHalf.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** One pass's stolen BHs; reused per nesting depth. Home thread only. */
    private static final class Slice {
        BottomHalf first;
    }

    @SuppressWarnings("unused") // accessed through HEAD
    private BottomHalf head;
    private final ArrayDeque<Slice> slices = new ArrayDeque<>();
    private Slice[] slicePool = new Slice[4];

    /** Queues {@code bh}; false, and nothing queued, once the queue is sealed. Any thread. */
    boolean push(BottomHalf bh) {
        BottomHalf h;
        do {
            h = (BottomHalf) HEAD.getAcquire(this); // the head another pusher's CAS published; re-checked by our CAS
            if (h == SEALED) {
                return false;
            }
            bh.next = h;
            // Volatile CAS publishes bh.next and the flags set before; pairs with getAndSet in runPass() and
            // seal(). It fails if the queue was sealed meanwhile, and the next look sees the marker.
        } while (!HEAD.compareAndSet(this, h, bh));
        return true;
    }

    /** Whether {@link #seal()} ran (acquire load of the head). Any thread. */
    boolean isSealed() {
        return HEAD.getAcquire(this) == SEALED;
    }

    /**
     * Refuses every later {@link #push}; the BHs pushed so far stay queued for {@link #runPass} or
     * {@link #drainForClose}. Idempotent. Home thread.
     */
    void seal() {
        // Volatile swap: pairs with the pushers' CAS, as runPass's does; from here on their CAS meets SEALED.
        BottomHalf stolen = (BottomHalf) HEAD.getAndSet(this, SEALED);
        if (stolen != SEALED && stolen != null) {
            Slice held = new Slice(); // once per context, at close
            held.first = reverse(stolen);
            slices.addLast(held);
        }
    }

    /** Takes the pushed stack, leaving an empty one (or the seal). Home thread. */
    private BottomHalf steal() {
        // Only the home thread seals, so a head that is not SEALED now cannot become SEALED before the swap.
        if (HEAD.getAcquire(this) == SEALED) {
            return null;
        }
        // Volatile swap pairs with the CAS in push(): every pushed BH is complete.
        return (BottomHalf) HEAD.getAndSet(this, (BottomHalf) null);
    }

    /**
     * Runs one BH pass at nesting depth {@code depth} (1 = outermost). Returns whether a non-idle BH ran
     * (QEMU's progress). Home thread.
     */
    boolean runPass(int depth, AioContext context) {
        BottomHalf stolen = steal();
        Slice mine = slice(depth);
        if (slices.contains(mine)) {
            // A throwable (an Error) escaped a callback of an earlier pass at this depth and left its slice here
            // unfinished. Reusing it dropped the BHs still in it, which kept PENDING and never ran again
            // (session 26); they run from the front of the list as this pass drains it.
            mine = new Slice();
            slicePool[depth] = mine;
        }
        mine.first = reverse(stolen);
        slices.addLast(mine);
        boolean progress = false;
        Slice s;
        while ((s = slices.peekFirst()) != null) {
            BottomHalf bh = s.first;
            if (bh == null) {
                slices.pollFirst();
                continue;
            }
            s.first = bh.next;
            bh.next = null;
            // Clearing PENDING (volatile RMW) allows the BH to be queued again, even from its own callback.
            int flags = bh.takeFlagsForPass();
            if ((flags & (BottomHalf.SCHEDULED | BottomHalf.DELETED)) == BottomHalf.SCHEDULED) {
                if ((flags & BottomHalf.IDLE) == 0) {
                    progress = true;
                }
                context.runCallback("bottom half", bh.name(), bh.callback());
            }
            if ((flags & (BottomHalf.DELETED | BottomHalf.ONESHOT)) != 0) {
                context.bottomHalfFreed(bh);
            }
        }
        return progress;
    }

    private Slice slice(int depth) {
        if (depth >= slicePool.length) {
            slicePool = Arrays.copyOf(slicePool, Math.max(slicePool.length * 2, depth + 1));
        }
        Slice s = slicePool[depth];
        if (s == null) {
            s = new Slice();
            slicePool[depth] = s;
        }
        return s;
    }

    private static BottomHalf reverse(BottomHalf list) {
        BottomHalf reversed = null;
        while (list != null) {
            BottomHalf next = list.next;
            list.next = reversed;
            reversed = list;
            list = next;
        }
        return reversed;
    }

    /**
     * 0 if some BH is scheduled (not idle, not deleted), {@link #IDLE_TIMEOUT_NS} if only idle BHs are, else -1
     * (QEMU's BH part of {@code aio_compute_timeout}). Home thread.
     */
    long timeoutNs() {
        long timeout = -1;
        // Acquire: pairs with the CAS in push(), so the links of pushed BHs are visible.
        for (BottomHalf bh = (BottomHalf) HEAD.getAcquire(this); bh != null && bh != SEALED; bh = bh.next) {
            int flags = bh.flagsAcquire();
            if ((flags & (BottomHalf.SCHEDULED | BottomHalf.DELETED)) == BottomHalf.SCHEDULED) {
                if ((flags & BottomHalf.IDLE) == 0) {
                    return 0;
                }
                timeout = IDLE_TIMEOUT_NS;
            }
        }
        if (slices.isEmpty()) {
            // The usual case: no pass is running. Checked first because the loop below takes an iterator, which
            // only C2's escape analysis removes: until C2 compiled this method, each blocking wait of the loop
            // allocated one (32 bytes; the bulk of what a QD 1 bench on a slow device allocated).
            return timeout;
        }
        for (Slice s : slices) {
            for (BottomHalf bh = s.first; bh != null; bh = bh.next) {
                int flags = bh.flagsAcquire();
                if ((flags & (BottomHalf.SCHEDULED | BottomHalf.DELETED)) == BottomHalf.SCHEDULED) {
                    if ((flags & BottomHalf.IDLE) == 0) {
                        return 0;
                    }
                    timeout = IDLE_TIMEOUT_NS;
                }
            }
        }
        return timeout;
    }

    /**
     * At close: seals the queue, empties it and returns the BHs that were still queued without having been
     * deleted (QEMU aborts on those: "BH leaked"). Home thread, after the last pass.
     */
    List<BottomHalf> drainForClose(AioContext context) {
        List<BottomHalf> leaked = new ArrayList<>();
        seal();
        BottomHalf bh = null;
        for (Slice s : slices) {
            bh = append(bh, s.first);
            s.first = null;
        }
        slices.clear();
        while (bh != null) {
            BottomHalf next = bh.next;
            bh.next = null;
            int flags = bh.takeFlagsForPass();
            if ((flags & BottomHalf.DELETED) == 0) {
                leaked.add(bh);
            }
            if ((flags & (BottomHalf.DELETED | BottomHalf.ONESHOT)) != 0) {
                context.bottomHalfFreed(bh);
            }
            bh = next;
        }
        return leaked;
    }

    private static BottomHalf append(BottomHalf list, BottomHalf tail) {
        if (list == null) {
            return tail;
        }
        BottomHalf last = list;
        while (last.next != null) {
            last = last.next;
        }
        last.next = tail;
        return list;
    }
}
