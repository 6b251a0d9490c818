package io.blockloop.ffm.libaio;

import io.blockloop.ffm.call.Availability;
import io.blockloop.ffm.call.NativeLibrary;
import io.blockloop.ffm.errno.Errno;
import io.blockloop.ffm.errno.NativeCallException;
import io.blockloop.ffm.memory.SegmentBounds;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.Arrays;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * libaio ({@code libaio.so.1}): {@code io_setup}, {@code io_destroy}, {@code io_submit},
 * {@code io_getevents}, {@code io_cancel}. libaio returns failures as a negative errno (it does not set
 * {@code errno}), so no errno capture is needed; the {@code ...OrErrno} names say so.
 *
 * <p>An {@code io_context_t} is the address of the kernel's {@code struct aio_ring} mapped into this
 * process (see {@link AioRing}); it is carried here as a {@code long}.
 *
 * <p>Live contexts: libaio's {@code io_getevents} is the one call that reads the context in user space before the
 * system call (the ring's {@code magic} at {@code ctx + 16}, then {@code head} and {@code tail} for its fast path: a
 * zero timeout on an empty ring returns 0 without a system call). On a destroyed context, whose ring
 * {@code io_destroy} unmapped, or on a number that was never a context, that read crashed the JVM. So this class
 * keeps the contexts {@link #setup} made and {@link #destroyOrErrno} has not destroyed, and
 * {@link #getEventsOrErrno} answers {@code -EINVAL} (what the kernel answers) for any other context without
 * calling libaio. {@code io_submit}, {@code io_cancel} and {@code io_destroy} are plain system calls in libaio
 * 0.3.113 (a destroyed context and the context 1 got {@code -EINVAL} from each), so they go straight to the kernel.
 * A registry, not a direct {@code io_getevents} system call, because the fast path matters: {@code LinuxAioEngine}
 * without userspace reaping polls with a zero timeout, and would make one system call per empty poll without it.
 * The lookup is a binary search in a small array: no allocation, no lock.
 *
 * <p>Thread safety: any thread. The kernel serialises calls on one context. The registry covers a
 * {@code destroyOrErrno} that happens-before the {@code getEventsOrErrno}; one that races it on another thread
 * (a use after destroy in any case) may still crash the JVM.
 */
public final class LibAio {
    public static final String SONAME = "libaio.so.1";
    private static final NativeLibrary LIB = NativeLibrary.load(SONAME);

    private static final MethodHandle IO_SETUP = LIB.downcall("io_setup",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle IO_DESTROY = LIB.downcall("io_destroy",
            FunctionDescriptor.of(JAVA_INT, JAVA_LONG));
    private static final MethodHandle IO_SUBMIT = LIB.downcall("io_submit",
            FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, ADDRESS));
    private static final MethodHandle IO_GETEVENTS = LIB.downcall("io_getevents",
            FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, ADDRESS, ADDRESS));
    private static final MethodHandle IO_CANCEL = LIB.downcall("io_cancel",
            FunctionDescriptor.of(JAVA_INT, JAVA_LONG, ADDRESS, ADDRESS));

    /**
     * The cached probe: the volatile store in {@link #availability()} pairs with the load there on other threads
     * (two first calls may both probe, which is harmless).
     */
    private static volatile Availability availability;

    /** {@code sizeof(struct timespec)} on the 64-bit ABIs: {@code tv_sec} and {@code tv_nsec}, 8 bytes each. */
    private static final long TIMESPEC_SIZE = 16;

    /**
     * The live contexts ({@link #setup} made them, {@link #destroyOrErrno} did not yet destroy them), sorted;
     * copy-on-write under {@link #LIVE_LOCK}. The volatile store of a new array in {@link #register}/
     * {@link #unregister} pairs with the volatile load in {@link #isLive}: a reader sees the array's elements as
     * written before it was published.
     */
    private static volatile long[] live = new long[0];
    private static final Object LIVE_LOCK = new Object();

    private LibAio() {
    }

    /**
     * Whether linux-aio works here: {@code libaio.so.1} loads and {@code io_setup(1)} succeeds (it fails
     * with {@code ENOSYS} without {@code CONFIG_AIO}, {@code EAGAIN} when {@code fs.aio-max-nr} is used up,
     * {@code EPERM} under a seccomp filter). Cached after the first call.
     */
    public static Availability availability() {
        Availability a = availability;
        if (a == null) {
            a = probe();
            availability = a;
        }
        return a;
    }

    private static Availability probe() {
        if (!LIB.isLoaded()) {
            return Availability.no(LIB.loadFailure());
        }
        try {
            long ctx = setup(1);
            destroyOrErrno(ctx);
            return Availability.yes();
        } catch (NativeCallException e) {
            return Availability.no(e.getMessage());
        }
    }

    /**
     * {@code io_setup(maxEvents, &ctx)}; returns the context (the aio_ring address), which
     * {@link #getEventsOrErrno} accepts until {@link #destroyOrErrno} destroys it.
     */
    public static long setup(int maxEvents) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ctx = arena.allocate(JAVA_LONG);
            int r = (int) IO_SETUP.invokeExact(maxEvents, ctx);
            NativeCallException.check("io_setup", r);
            long context = ctx.get(JAVA_LONG, 0);
            register(context);
            return context;
        } catch (NativeCallException | UnsatisfiedLinkError e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /**
     * {@code io_destroy(ctx)}: 0 or a negative errno ({@code -EINVAL} for a context that is not live). The context
     * leaves the registry first, while its ring is still mapped: once the kernel unmaps it, a concurrent
     * {@link #setup} may get the same address back, and must find it registered for itself.
     */
    public static int destroyOrErrno(long ctx) {
        unregister(ctx);
        try {
            return (int) IO_DESTROY.invokeExact(ctx);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * {@code io_submit(ctx, count, iocbPointers)}: {@code iocbPointers} is an array of {@code struct iocb *}.
     * Returns how many were queued (possibly fewer than {@code count}) or a negative errno ({@code -EAGAIN}:
     * retry later; any other: the first iocb is bad).
     */
    public static int submitOrErrno(long ctx, long count, MemorySegment iocbPointers) {
        SegmentBounds.checkElements(iocbPointers, count, Long.BYTES, "io_submit");
        try {
            return (int) IO_SUBMIT.invokeExact(ctx, count, iocbPointers);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * {@code io_getevents(ctx, min, max, events, timeout)}: {@code timeout} is a {@code struct timespec *}
     * or NULL to wait for {@code min}. Returns the event count or a negative errno; {@code -EINVAL} without calling
     * libaio for a context {@link #setup} did not make or {@link #destroyOrErrno} destroyed (see the class comment),
     * and for {@code min < 0} or {@code min > max}, as the kernel answers whatever the timeout.
     *
     * @throws IllegalArgumentException when {@code max} events do not fit in {@code events}, {@code events} is
     *                                  read-only (the kernel writes the events into it), or {@code timeout} is
     *                                  neither NULL nor a native segment of at least 16 bytes ({@code struct
     *                                  timespec}: libaio and the kernel read 16 bytes from it)
     */
    public static int getEventsOrErrno(long ctx, long min, long max, MemorySegment events, MemorySegment timeout) {
        SegmentBounds.checkElements(events, max, IoEvent.SIZE, "io_getevents");
        SegmentBounds.checkWritable(events, "io_getevents");
        if (!timeout.isNative() || (timeout.address() != 0 && timeout.byteSize() < TIMESPEC_SIZE)) { // NULL: no limit
            throw new IllegalArgumentException("io_getevents: a timeout of " + timeout.byteSize()
                    + (timeout.isNative() ? " native" : " heap") + " bytes; struct timespec takes " + TIMESPEC_SIZE);
        }
        if (!isLive(ctx)) {
            return -Errno.EINVAL; // libaio would read the ring header at ctx: unmapped, or never a ring
        }
        if (min < 0 || min > max) {
            // The kernel's answer; libaio's fast path (a zero timeout and an empty ring) answered 0 before asking it.
            return -Errno.EINVAL;
        }
        try {
            return (int) IO_GETEVENTS.invokeExact(ctx, min, max, events, timeout);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * {@code io_cancel(ctx, iocb, result)}; returns 0 or a negative errno ({@code -EINVAL} if not cancellable).
     * The kernel reads the iocb's key; older kernels wrote the cancelled request's event to {@code resultEvent},
     * current ones deliver it through {@code io_getevents}.
     *
     * @throws IllegalArgumentException when {@code iocb} is smaller than a {@code struct iocb}, or
     *                                  {@code resultEvent} is smaller than a {@code struct io_event} or read-only
     */
    public static int cancelOrErrno(long ctx, MemorySegment iocb, MemorySegment resultEvent) {
        SegmentBounds.checkLength(iocb, Iocb.SIZE, "io_cancel's iocb");
        SegmentBounds.checkLength(resultEvent, IoEvent.SIZE, "io_cancel's result event");
        SegmentBounds.checkWritable(resultEvent, "io_cancel");
        try {
            return (int) IO_CANCEL.invokeExact(ctx, iocb, resultEvent);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Whether {@code ctx} is a context {@link #setup} made and {@link #destroyOrErrno} did not destroy. */
    static boolean isLive(long ctx) {
        return Arrays.binarySearch(live, ctx) >= 0; // volatile load: pairs with the store in register/unregister
    }

    private static void register(long ctx) {
        synchronized (LIVE_LOCK) {
            long[] old = live;
            int at = Arrays.binarySearch(old, ctx);
            if (at >= 0) {
                return; // cannot happen: the kernel maps a new ring where no live one is
            }
            int insert = -at - 1;
            long[] grown = new long[old.length + 1];
            System.arraycopy(old, 0, grown, 0, insert);
            grown[insert] = ctx;
            System.arraycopy(old, insert, grown, insert + 1, old.length - insert);
            live = grown; // volatile store: pairs with the load in isLive
        }
    }

    private static void unregister(long ctx) {
        synchronized (LIVE_LOCK) {
            long[] old = live;
            int at = Arrays.binarySearch(old, ctx);
            if (at < 0) {
                return;
            }
            long[] shrunk = new long[old.length - 1];
            System.arraycopy(old, 0, shrunk, 0, at);
            System.arraycopy(old, at + 1, shrunk, at, old.length - at - 1);
            live = shrunk; // volatile store: pairs with the load in isLive
        }
    }

    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) {
            return r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        return new IllegalStateException(t);
    }
}
