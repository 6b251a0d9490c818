package io.blockloop.engine;

import io.blockloop.ffm.call.NativeLibrary;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Anonymous memory mapped, protected and unmapped by the test itself ({@code mmap}/{@code mprotect}/{@code munmap}),
 * for tests of memory that becomes inaccessible under a request: unlike an arena's memory, which the allocator may
 * keep mapped, it really faults after {@link #protectNone}. Any thread.
 */
final class AnonymousMapping {
    private static final MethodHandle MMAP = NativeLibrary.libc().downcall("mmap",
            FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG));
    private static final MethodHandle MPROTECT = NativeLibrary.libc().downcall("mprotect",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
    private static final MethodHandle MUNMAP = NativeLibrary.libc().downcall("munmap",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
    private static final int PROT_NONE = 0;
    private static final int PROT_READ_WRITE = 0x1 | 0x2;
    private static final int MAP_PRIVATE_ANONYMOUS = 0x02 | 0x20;

    private AnonymousMapping() {
    }

    /** {@code length} bytes of fresh zeroed memory, page-aligned. */
    static MemorySegment map(long length) throws Throwable {
        MemorySegment at = (MemorySegment) MMAP.invokeExact(MemorySegment.NULL, length, PROT_READ_WRITE,
                MAP_PRIVATE_ANONYMOUS, -1, 0L);
        if (at.address() == -1L) {
            throw new IllegalStateException("mmap failed");
        }
        return at.reinterpret(length);
    }

    /**
     * Makes what {@link #map} returned inaccessible ({@code PROT_NONE}): any access to it afterwards is a fault, the
     * kernel's copies answer {@code EFAULT}, and the range stays reserved until {@link #unmap}. An unmapped range
     * would not stay so: another thread of the JVM (JIT, GC, malloc) may map new memory into the hole meanwhile.
     */
    static void protectNone(MemorySegment mapping, long length) throws Throwable {
        if ((int) MPROTECT.invokeExact(mapping, length, PROT_NONE) != 0) {
            throw new IllegalStateException("mprotect failed");
        }
    }

    /** Unmaps what {@link #map} returned; the range may then be reused by any mapping. */
    static void unmap(MemorySegment mapping, long length) throws Throwable {
        if ((int) MUNMAP.invokeExact(mapping, length) != 0) {
            throw new IllegalStateException("munmap failed");
        }
    }
}
