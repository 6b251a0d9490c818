package io.blockloop.block.drain;

import io.blockloop.aio.AioContext;
import io.blockloop.aio.AioWait;
import io.blockloop.aio.IOThread;
import io.blockloop.aio.MainLoop;
import io.blockloop.block.BlockChild;
import io.blockloop.block.BlockGraph;
import io.blockloop.block.BlockNode;
import io.blockloop.block.backend.BlockBackend;
import io.blockloop.block.nullio.NullDriver;
import io.blockloop.block.raw.RawDriver;
import io.blockloop.coroutine.Coroutine;
import io.blockloop.fdmon.FdMonitorKind;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Drained sections, after QEMU's test-bdrv-drain.c: driver callbacks once per section, quiesce counters up the
 * graph, nesting, drains from coroutines (handed to the main loop), requests in flight completed at
 * drainedBegin, requests queued by a drained backend and released at the end, graph changes inside a drained
 * section (attach above a drained node, replace a child mid-drain), and a node moved to another context while
 * drained.
 */
class DrainedSectionTest {
    private static final long BOUND_NS = TimeUnit.SECONDS.toNanos(10);
    private AioContext main;

    @BeforeEach
    void setUp() {
        main = MainLoop.init(FdMonitorKind.AUTO);
    }

    @AfterEach
    void tearDown() {
        main.close();
    }

    /** raw over slow: the graph QEMU's drain tests use (a format over a protocol node), plus a backend. */
    private record Graph(SlowDriver slow, BlockNode base, BlockNode top, BlockBackend blk) {
    }

    private Graph graph(AioContext ctx, long delayNs) {
        SlowDriver slow = new SlowDriver(delayNs, (byte) 7);
        BlockNode base = new BlockNode("base", slow, ctx);
        BlockChild edge = BlockNode.attachForNewParent("file", base);
        BlockNode top = new BlockNode("top", RawDriver.open(edge, 0, -1), ctx);
        return new Graph(slow, base, top, BlockBackend.attach("blk", top));
    }

    private void waitFor(CompletableFuture<?> f) {
        assertTrue(AioWait.waitWhile(main, () -> !f.isDone(), BOUND_NS), "request did not finish in 10 s");
        f.join();
    }

    @Test
    void driverCallbacksRunOncePerSectionAndCountersClimbTheGraph() {
        Graph g = graph(main, 0);
        g.base().drainedBegin();
        assertEquals(1, g.slow().drainBegins.get());
        assertEquals(1, g.base().quiesceCounter());
        assertEquals(1, g.top().quiesceCounter(), "parents are quiesced through the edge");
        assertEquals(1, g.blk().quiesceCounter());
        g.base().drainedEnd();
        assertEquals(1, g.slow().drainEnds.get());
        assertEquals(0, g.base().quiesceCounter());
        assertEquals(0, g.top().quiesceCounter());
        assertEquals(0, g.blk().quiesceCounter());
        g.blk().close();
    }

    @Test
    void drainingTheTopLeavesChildrenAlone() {
        Graph g = graph(main, 0);
        g.top().drain();
        assertEquals(0, g.slow().drainBegins.get(), "drains are not recursive to children (QEMU 7.2+)");
        g.blk().close();
    }

    @Test
    void nestedSectionsCountAndOnlyTheOutermostCallsBack() {
        Graph g = graph(main, 0);
        g.base().drainedBegin();
        g.top().drainedBegin();
        g.base().drainedBegin();
        assertEquals(2, g.base().quiesceCounter());
        // Only a node's first section reaches its parents: top counts base's first one and its own.
        assertEquals(2, g.top().quiesceCounter());
        assertEquals(1, g.blk().quiesceCounter());
        assertEquals(1, g.slow().drainBegins.get());
        g.base().drainedEnd();
        g.top().drainedEnd();
        g.base().drainedEnd();
        assertEquals(0, g.top().quiesceCounter());
        assertEquals(1, g.slow().drainEnds.get());
        assertThrows(IllegalStateException.class, () -> g.base().drainedEnd(), "unbalanced end is refused");
        g.blk().close();
    }

    @Test
    void aRequestInFlightHasCompletedWhenDrainedBeginReturns() {
        Graph g = graph(main, TimeUnit.MILLISECONDS.toNanos(20));
        try (Arena arena = Arena.ofShared()) {
            MemorySegment buffer = arena.allocate(4096);
            CompletableFuture<Void> read = g.blk().readAsync(0, buffer);
            assertFalse(read.isDone());
            g.base().drainedBegin();
            assertTrue(read.isDone(), "drainedBegin polled until the request completed");
            assertEquals(0, g.base().inFlight());
            g.base().drainedEnd();
            assertEquals(7, buffer.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 0));
        }
        g.blk().close();
    }

    @Test
    void aDrainedBackendQueuesNewRequestsAndReleasesThemAtTheEnd() {
        Graph g = graph(main, 0);
        try (Arena arena = Arena.ofShared()) {
            g.base().drainedBegin();
            CompletableFuture<Void> read = g.blk().readAsync(0, arena.allocate(512));
            for (int i = 0; i < 5; i++) {
                main.poll(false);
            }
            assertFalse(read.isDone(), "a request to a drained backend waits");
            assertEquals(0, g.slow().served.get(), "no request reached a drained node");
            assertEquals(0, g.blk().inFlight(), "a queued request is not in flight");
            g.base().drainedEnd();
            waitFor(read);
            assertEquals(1, g.slow().served.get());
        }
        g.blk().close();
    }

    @Test
    void drainFromACoroutineIsHandedToTheMainLoop() {
        Graph g = graph(main, TimeUnit.MILLISECONDS.toNanos(5));
        AtomicReference<Throwable> failure = new AtomicReference<>();
        AtomicBoolean inside = new AtomicBoolean();
        AtomicBoolean done = new AtomicBoolean();
        Coroutine.create(() -> {
            try {
                g.base().drainedBegin();
                inside.set(g.base().quiesceCounter() == 1 && g.blk().quiesceCounter() == 1);
                g.base().drainedEnd();
            } catch (Throwable t) {
                failure.set(t);
            } finally {
                done.set(true);
            }
        }).enter();
        assertTrue(AioWait.waitWhile(main, () -> !done.get(), BOUND_NS));
        assertNull(failure.get());
        assertTrue(inside.get());
        assertEquals(0, g.base().quiesceCounter());
        g.blk().close();
    }

    @Test
    void drainFromAnIoThreadCoroutineWaitsForItsRequests() throws Exception {
        try (IOThread io = new IOThread("drain-io").start()) {
            Graph g = graph(io.context(), TimeUnit.MILLISECONDS.toNanos(10));
            try (Arena arena = Arena.ofShared()) {
                List<CompletableFuture<Void>> reads = new ArrayList<>();
                for (int i = 0; i < 8; i++) {
                    reads.add(g.blk().readAsync(i * 512L, arena.allocate(512)));
                }
                CompletableFuture<Boolean> allDoneInside = new CompletableFuture<>();
                Coroutine.create(() -> {
                    g.base().drainedBegin();
                    allDoneInside.complete(reads.stream().allMatch(CompletableFuture::isDone));
                    g.base().drainedEnd();
                }).enterIn(io.context());
                waitFor(allDoneInside);
                assertTrue(allDoneInside.join(), "every request had completed inside the section");
            }
            AioWait.runInContext(io.context(), () -> {
            });
            g.blk().close();
        }
    }

    @Test
    void aParentAttachedAboveADrainedNodeStartsQuiesced() {
        Graph g = graph(main, 0);
        g.base().drainedBegin();
        BlockChild edge = BlockNode.attachForNewParent("file", g.base());
        BlockNode second = new BlockNode("second", RawDriver.open(edge, 0, -1), main);
        BlockBackend other = BlockBackend.attach("other", second);
        assertEquals(1, second.quiesceCounter(), "a node built over a drained node starts quiesced");
        assertEquals(1, other.quiesceCounter(), "so does a backend attached on top of it");
        g.base().drainedEnd();
        assertEquals(0, other.quiesceCounter());
        other.close();
        g.blk().close();
    }

    /**
     * An edge quiesces its parent once however many sections its node is in (QEMU's {@code quiesced_parent}):
     * attached above a node drained twice, a parent got two begins and one end (its requests parked for good);
     * replaced onto such a node, a backend stayed quiesced; replaced off one, its counter went to -2 and later
     * drains did not hold it; a node closed over one threw half-way, its children still attached.
     */
    @Test
    void anEdgeQuiescesItsParentOnceWhateverItsNodesDrainDepth() {
        BlockNode base = nullNode("base");
        base.drainedBegin();
        base.drainedBegin();
        BlockNode top = new BlockNode("top", RawDriver.open(BlockNode.attachForNewParent("file", base), 0, -1), main);
        BlockBackend above = BlockBackend.attach("above", top);
        assertEquals(1, top.quiesceCounter());
        assertEquals(1, above.quiesceCounter());
        base.drainedEnd();
        base.drainedEnd();
        assertEquals(0, top.quiesceCounter(), "a parent attached above a node drained twice stayed quiesced");
        assertEquals(0, above.quiesceCounter());

        BlockNode old = nullNode("old");
        BlockNode replacement = nullNode("replacement");
        BlockBackend blk = BlockBackend.attach("blk", old);
        replacement.drainedBegin();
        replacement.drainedBegin();
        BlockGraph.replaceNode(old, replacement);
        replacement.drainedEnd();
        replacement.drainedEnd();
        assertEquals(0, blk.quiesceCounter(), "replaced onto a node drained twice, the backend stayed quiesced");

        replacement.drainedBegin();
        replacement.drainedBegin();
        BlockGraph.replaceNode(replacement, old);
        assertEquals(0, blk.quiesceCounter(), "replaced off a node drained twice, the counter went negative");
        replacement.drainedEnd();
        replacement.drainedEnd();
        old.drainedBegin();
        assertEquals(1, blk.quiesceCounter(), "a drain of the new node holds the backend");
        old.drainedEnd();

        base.drainedBegin();
        base.drainedBegin();
        above.close();
        top.close(); // detaches from base, drained twice: threw "drainedEnd ... without drainedBegin" half-way
        assertTrue(base.parents().isEmpty());
        base.drainedEnd();
        base.drainedEnd();
        blk.close();
        for (BlockNode n : List.of(base, old, replacement)) {
            n.close();
        }
    }

    private BlockNode nullNode(String name) {
        return new BlockNode(name, NullDriver.open(1 << 20, true), main);
    }

    @Test
    void replacingAChildMidDrainMovesTheQuiescing() {
        Graph g = graph(main, 0);
        SlowDriver otherDriver = new SlowDriver(0, (byte) 9);
        BlockNode replacement = new BlockNode("replacement", otherDriver, main);
        BlockChild edge = g.top().children().getFirst();
        for (int oldDrained = 0; oldDrained <= 1; oldDrained++) {
            for (int newDrained = 0; newDrained <= 1; newDrained++) {
                BlockNode from = edge.node();
                BlockNode to = from == g.base() ? replacement : g.base();
                if (oldDrained == 1) {
                    from.drainedBegin();
                }
                if (newDrained == 1) {
                    to.drainedBegin();
                }
                BlockGraph.writeLock();
                try {
                    BlockNode.repoint(edge, to);
                } finally {
                    BlockGraph.writeUnlock();
                }
                assertEquals(newDrained, g.top().quiesceCounter(), "old " + oldDrained + " new " + newDrained);
                assertEquals(newDrained, g.blk().quiesceCounter());
                if (oldDrained == 1) {
                    from.drainedEnd();
                }
                if (newDrained == 1) {
                    to.drainedEnd();
                }
                assertEquals(0, g.blk().quiesceCounter());
            }
        }
        try (Arena arena = Arena.ofShared()) {
            MemorySegment buffer = arena.allocate(64);
            waitFor(g.blk().readAsync(0, buffer));
            byte expected = edge.node() == replacement ? (byte) 9 : (byte) 7;
            assertEquals(expected, buffer.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 0));
        }
        g.blk().close();
    }

    @Test
    void aDrainedNodeMovesToAnotherContext() throws Exception {
        try (IOThread io = new IOThread("move-io").start()) {
            Graph g = graph(main, 0);
            for (int i = 0; i < 10; i++) {
                AioContext target = i % 2 == 0 ? io.context() : main;
                g.top().drainedBegin();
                g.base().drainedBegin();
                g.base().setContext(target);
                g.top().setContext(target);
                g.base().drainedEnd();
                g.top().drainedEnd();
                try (Arena arena = Arena.ofShared()) {
                    waitFor(g.blk().readAsync(0, arena.allocate(64)));
                }
            }
            g.blk().close();
        }
    }
}
