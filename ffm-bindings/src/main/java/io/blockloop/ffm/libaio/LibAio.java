package io.blockloop.ffm.libaio;

import io.blockloop.ffm.call.Availability;
import io.blockloop.ffm.call.NativeLibrary;
import io.blockloop.ffm.errno.NativeCallException;
import io.blockloop.ffm.memory.SegmentBounds;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

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
 * <p>Thread safety: stateless; any thread. The kernel serialises calls on one context.
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

    /** {@code io_setup(maxEvents, &ctx)}; returns the context (the aio_ring address). */
    public static long setup(int maxEvents) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ctx = arena.allocate(JAVA_LONG);
            int r = (int) IO_SETUP.invokeExact(maxEvents, ctx);
            NativeCallException.check("io_setup", r);
            return ctx.get(JAVA_LONG, 0);
        } catch (NativeCallException | UnsatisfiedLinkError e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    public static int destroyOrErrno(long ctx) {
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
     * or NULL to wait for {@code min}. Returns the event count or a negative errno.
     */
    public static int getEventsOrErrno(long ctx, long min, long max, MemorySegment events, MemorySegment timeout) {
        SegmentBounds.checkElements(events, max, IoEvent.SIZE, "io_getevents");
        try {
            return (int) IO_GETEVENTS.invokeExact(ctx, min, max, events, timeout);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code io_cancel(ctx, iocb, result)}; returns 0 or a negative errno ({@code -EINVAL} if not cancellable). */
    public static int cancelOrErrno(long ctx, MemorySegment iocb, MemorySegment resultEvent) {
        try {
            return (int) IO_CANCEL.invokeExact(ctx, iocb, resultEvent);
        } catch (Throwable t) {
            throw rethrow(t);
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
