package io.blockloop.ffm.memory;

import jdk.internal.foreign.MemorySessionImpl;

import java.lang.foreign.MemorySegment;

/**
 * Keeps a buffer's arena open while a request uses its memory: closing the arena meanwhile throws
 * {@link IllegalStateException} ("Session is acquired by 1 clients") instead of freeing memory the kernel may still
 * write. The JDK's public API has no such pin; its own asynchronous channels use the same counter of the segment's
 * scope, {@code jdk.internal.foreign.MemorySessionImpl.acquire0()}/{@code release0()}, which this class calls.
 * Heap segments, global and automatic scopes count nothing (an automatic arena stays alive while the request holds
 * its segment).
 *
 * <p>That package is reachable only with {@value #JVM_OPTION} (the root pom's test runs and {@code blockloop.jar}'s
 * manifest have it). Without it nothing is pinned, and the caller must keep the arena open until the request
 * completes, as in C.
 *
 * <p>Threads: {@link #pin} on a thread that may access the segment (a confined arena's owner); {@link #unpin} on
 * any thread. The counter is the JDK's: a shared scope's is a CAS loop, a confined one's a plain count of its owner
 * plus an atomic one for releases from other threads; either way a close sees every pin taken before it.
 */
public final class ArenaPins {
    /** The JVM option that opens the scope's counter to BlockLoop on the class path. */
    public static final String JVM_OPTION = "--add-exports java.base/jdk.internal.foreign=ALL-UNNAMED";
    /** Whether {@code java.base} exports the counter to this module; read once. */
    private static final boolean AVAILABLE = Object.class.getModule().isExported("jdk.internal.foreign",
            ArenaPins.class.getModule());

    private ArenaPins() {
    }

    /** Whether pins are taken: the JVM exports {@code jdk.internal.foreign} to BlockLoop. */
    public static boolean available() {
        return AVAILABLE;
    }

    /**
     * Pins {@code segment}'s arena until {@link #unpin}.
     *
     * @throws IllegalStateException if the arena is already closed
     * @throws WrongThreadException  if the arena is confined to another thread
     */
    public static void pin(MemorySegment segment) {
        if (AVAILABLE) {
            Counter.acquire(segment);
        }
    }

    /**
     * Pins {@code segment}'s arena unless it is confined to another thread, whose owner alone can close it (for
     * instance the caller of a blocking API, waiting for the request); returns whether it pinned.
     *
     * @throws IllegalStateException if the arena is already closed
     */
    public static boolean pinUnlessConfinedElsewhere(MemorySegment segment) {
        if (!AVAILABLE || !segment.isAccessibleBy(Thread.currentThread())) {
            return false;
        }
        Counter.acquire(segment);
        return true;
    }

    /** Releases one pin of {@code segment}'s arena. Any thread. */
    public static void unpin(MemorySegment segment) {
        if (AVAILABLE) {
            Counter.release(segment);
        }
    }

    /** The one class that names the JDK-internal type: loaded only when the package is exported to us. */
    private static final class Counter {
        private Counter() {
        }

        static void acquire(MemorySegment segment) {
            ((MemorySessionImpl) segment.scope()).acquire0();
        }

        static void release(MemorySegment segment) {
            ((MemorySessionImpl) segment.scope()).release0();
        }
    }
}
