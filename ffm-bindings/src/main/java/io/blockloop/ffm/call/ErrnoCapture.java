package io.blockloop.ffm.call;

import java.lang.foreign.Arena;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.VarHandle;

/**
 * Per-thread storage for the {@code errno} that {@link Linker.Option#captureCallState} saves right after a
 * downcall returns, before the JVM can clobber it.
 *
 * <p>Usage: {@code MemorySegment c = ErrnoCapture.segment(); long r = (long) H.invokeExact(c, ...);
 * if (r < 0) return -ErrnoCapture.errno(c);}. The segment belongs to the calling thread: read it on the
 * same thread, before that thread makes its next capturing call. No allocation after the first call on a
 * thread.
 */
public final class ErrnoCapture {
    static final Linker.Option OPTION = Linker.Option.captureCallState("errno");
    private static final StructLayout LAYOUT = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = LAYOUT.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final ThreadLocal<MemorySegment> SEGMENT =
            ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(LAYOUT));

    private ErrnoCapture() {
    }

    /** The calling thread's capture segment. */
    public static MemorySegment segment() {
        return SEGMENT.get();
    }

    /** The errno saved in {@code segment} by the last capturing call made with it. */
    public static int errno(MemorySegment segment) {
        return (int) ERRNO.get(segment, 0L);
    }
}
