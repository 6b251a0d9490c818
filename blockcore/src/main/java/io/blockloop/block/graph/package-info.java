/**
 * The block graph's reader/writer lock (QEMU's {@code block/graph-lock.c}, {@code include/block/graph-lock.h}):
 * {@link io.blockloop.block.graph.GraphLock}, the {@link io.blockloop.block.graph.DrainAll} hook through which the
 * block layer quiesces I/O for the writer, and the annotations {@link io.blockloop.block.graph.GraphReadLocked}
 * and {@link io.blockloop.block.graph.GraphWriteLocked} (QEMU's {@code GRAPH_RDLOCK} / {@code GRAPH_WRLOCK}),
 * checked at method entry with {@code assert GraphLock.checkReadable();} / {@code assert GraphLock.checkWritable();}.
 *
 * <h2>{@code Thread.currentThread()} inside coroutines</h2>
 * A coroutine that moves to another IOThread resumes its frames on another platform thread. HotSpot's C2 treats
 * {@link java.lang.Thread#currentThread()} as constant within a compiled method (the JDK never moves a
 * continuation between platform threads itself: a virtual thread stays the same thread), so compiled code that
 * read the current thread before a yield may use that value after the coroutine resumed elsewhere: measured here
 * with a coroutine hopping between two IOThreads in a loop, {@code Thread.currentThread()} and
 * {@link io.blockloop.aio.AioContext#current()} (a thread-local) named the previous thread after about one hop in
 * eight once C2 had compiled the loop ({@code Coroutine.self().context()} was right every time). So the graph lock
 * finds a reader's context through its coroutine, and guards its own state with a monitor rather than a
 * {@code java.util.concurrent} lock, which records its owner (and parks waiters) by
 * {@code Thread.currentThread()}.
 */
package io.blockloop.block.graph;
