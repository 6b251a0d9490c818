package io.blockloop.block.graphchange;

import io.blockloop.aio.AioContext;
import io.blockloop.aio.AioWait;
import io.blockloop.aio.IOThread;
import io.blockloop.aio.MainLoop;
import io.blockloop.block.BlockChild;
import io.blockloop.block.BlockGraph;
import io.blockloop.block.BlockIoException;
import io.blockloop.block.BlockNode;
import io.blockloop.block.backend.BlockBackend;
import io.blockloop.block.backend.ImageSpec;
import io.blockloop.block.file.FileOptions;
import io.blockloop.block.filter.ErrorInjectionDriver;
import io.blockloop.block.filter.ErrorRule;
import io.blockloop.block.filter.RequestKind;
import io.blockloop.block.filter.ThrottleDriver;
import io.blockloop.block.filter.ThrottleLimit;
import io.blockloop.block.filter.ThrottleLimits;
import io.blockloop.block.nullio.NullDriver;
import io.blockloop.block.raw.RawDriver;
import io.blockloop.block.graph.GraphLock;
import io.blockloop.coroutine.Coroutine;
import io.blockloop.fdmon.FdMonitorKind;
import io.blockloop.ffm.errno.Errno;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Graph changes under the write lock (QEMU's bdrv_append, bdrv_replace_node, bdrv_drop_filter,
 * bdrv_try_change_aio_context) with requests before and after, and the mailing-list deadlock: a coroutine of an
 * IOThread that holds the read lock drains a node while the main loop waits for the write lock.
 */
class GraphChangeTest {
    private static final long BOUND_NS = TimeUnit.SECONDS.toNanos(10);
    private AioContext main;
    /** The global lock's reader count before the test: a class that leaked one is failed by GlobalStateLeakCheck. */
    private long readersBefore;

    @BeforeEach
    void setUp() {
        main = MainLoop.init(FdMonitorKind.AUTO);
        readersBefore = GraphLock.global().readerCount();
    }

    @AfterEach
    void tearDown() {
        assertEquals(readersBefore, GraphLock.global().readerCount(), "no reader count leaked");
        main.close();
    }

    /** A zero-filled image of {@code size} bytes under the build directory (a disk file system). */
    private static String image(int size) throws IOException {
        Path image = Files.createTempFile(Files.createDirectories(Path.of("target", "block-tests")), "graph", ".img");
        Files.write(image, new byte[size]);
        return image.toString();
    }

    private void await(CompletableFuture<?> f) {
        assertTrue(AioWait.waitWhile(main, () -> !f.isDone(), BOUND_NS), "did not finish within 10 s");
    }

    /**
     * A node and its child live in one context: connecting them across two is refused when they are connected.
     * Before, the graph was built and its first read failed with a message about the caller's thread.
     */
    @Test
    void aChildInAnotherContextIsRefusedWhenItIsConnected() throws Exception {
        try (IOThread io = new IOThread("io0").start()) {
            BlockNode below = new BlockNode("below", NullDriver.open(1 << 20, true), io.context());
            BlockChild edge = BlockNode.attachForNewParent("file", below);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> new BlockNode("above", RawDriver.open(edge, 0, -1), main));
            assertTrue(e.getMessage().startsWith("node 'below' lives in "), e.getMessage());
            BlockNode.detach(edge); // the refused node's edge is the caller's to take back
            BlockNode mainNode = new BlockNode("main-node", NullDriver.open(1 << 20, true), main);
            assertThrows(IllegalArgumentException.class, () -> BlockNode.attach(mainNode, "extra", below));
            assertTrue(below.parents().isEmpty());
            mainNode.close();
            below.close();
        }
    }

    /**
     * Only a filter can be removed from between its parents and its child: a raw window removed that way let
     * writes at offset 0 land at its file's offset 0, outside the image.
     */
    @Test
    void removingANodeThatIsNotAFilterIsRefused() {
        BlockBackend blk = BlockBackend.open("b", new ImageSpec.Null(1 << 20, true), main);
        BlockNode base = blk.root();
        BlockNode filter = BlockGraph.insertFilter(base, "debug", ErrorInjectionDriver::open);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> BlockGraph.removeFilter(base));
        assertTrue(e.getMessage().contains("is not a filter"), e.getMessage());
        assertSame(filter, blk.root(), "nothing changed");
        BlockGraph.removeFilter(filter);
        blk.close();
    }

    /**
     * A node that a backend or another node still uses cannot close: closing the file node under an open backend
     * closed its fd, the number went to the next file the application opened, and the backend's next write landed
     * there.
     */
    @Test
    void aNodeInUseCannotClose() throws Exception {
        Path image = Path.of(image(1 << 20));
        BlockBackend blk = BlockBackend.open("b", new ImageSpec.Raw(FileOptions.of(image.toString())), main);
        BlockNode file = blk.root().children().getFirst().node();
        IllegalStateException e = assertThrows(IllegalStateException.class, file::close);
        assertEquals("node '" + file.name() + "' cannot close while it is used by [node '" + blk.root().name() + "']",
                e.getMessage());
        IllegalStateException root = assertThrows(IllegalStateException.class, blk.root()::close);
        assertTrue(root.getMessage().endsWith("while it is used by [block backend 'b']"), root.getMessage());
        try (Arena arena = Arena.ofShared()) {
            blk.write(0, arena.allocate(4096, 4096).fill((byte) 'X'), 0); // still the image's
        }
        blk.close();
        assertTrue(file.isClosed(), "the backend closed what it opened");
        assertEquals('X', Files.readAllBytes(image)[0]);
    }

    /**
     * A graph change that would make a node its own descendant is refused: the next request met the node again
     * inside itself, waited for its own tracked request, and hung for good; the drain and buffer walks recursed
     * without end.
     */
    @Test
    void cyclesAreRefused() throws Exception {
        BlockBackend blk = BlockBackend.open("b", new ImageSpec.Raw(FileOptions.of(image(1 << 20))), main);
        BlockNode raw = blk.root();
        BlockNode file = raw.children().getFirst().node();
        BlockNode filter = BlockGraph.insertFilter(raw, "debug", ErrorInjectionDriver::open); // b -> debug -> raw
        try {
            // raw's edge to file would point at the filter above raw: raw -> debug -> raw.
            IllegalArgumentException replace = assertThrows(IllegalArgumentException.class,
                    () -> BlockGraph.replaceNode(file, filter));
            assertEquals("making node 'debug' the file child of node '" + raw.name() + "' would create a cycle",
                    replace.getMessage());
            assertThrows(IllegalArgumentException.class, () -> BlockNode.attach(file, "loop", filter));
            assertSame(file, raw.children().getFirst().node(), "nothing changed");
            try (Arena arena = Arena.ofShared()) {
                blk.read(0, arena.allocate(4096, 4096)); // requests still work
            }
        } finally {
            blk.close();
        }
    }

    /**
     * Edges change only in the main loop, and an open node keeps its children: detaching one under it left its
     * driver using an edge the graph no longer had, and a later move to another context left the child behind.
     */
    @Test
    void edgesChangeOnlyInTheMainLoopAndNotUnderAnOpenNode() throws Exception {
        BlockBackend blk = BlockBackend.open("b", new ImageSpec.Raw(FileOptions.of(image(1 << 20))), main);
        BlockNode raw = blk.root();
        IllegalStateException detach = assertThrows(IllegalStateException.class,
                () -> BlockNode.detach(raw.children().getFirst()));
        assertTrue(detach.getMessage().contains("while that node is open"), detach.getMessage());
        AtomicReference<Throwable> offMain = new AtomicReference<>();
        Thread other = Thread.ofPlatform().start(() -> offMain.set(assertThrows(IllegalStateException.class,
                () -> BlockNode.attach(blk, "again", raw))));
        other.join();
        assertEquals("BlockNode.attach runs in the main loop, on thread '" + Thread.currentThread().getName()
                + "', not on '" + other.getName() + "'", offMain.get().getMessage());
        assertEquals(1, raw.parents().size());
        blk.close();
    }

    /** A filter inserted above a backend's own nodes closes with the backend; it used to stay open for good. */
    @Test
    void aFilterAboveABackendsNodesClosesWithIt() {
        BlockBackend blk = BlockBackend.open("b", new ImageSpec.Null(1 << 20, true), main);
        BlockNode base = blk.root();
        BlockNode filter = BlockGraph.insertFilter(base, "debug", ErrorInjectionDriver::open);
        blk.close();
        assertTrue(filter.isClosed());
        assertTrue(base.isClosed());
        assertTrue(BlockNode.allNodes().isEmpty(), BlockNode.allNodes().toString());
    }

    /**
     * Nodes that a closing backend opened but another backend still uses stay open, and close when that one lets
     * go of them. Before, the first backend closed them under the second one.
     */
    @Test
    void nodesSharedWithAnotherBackendCloseWithTheLastOne() throws Exception {
        BlockBackend owner = BlockBackend.open("owner", new ImageSpec.Raw(FileOptions.of(image(1 << 20))), main);
        BlockNode raw = owner.root();
        BlockNode file = raw.children().getFirst().node();
        BlockBackend user = BlockBackend.attach("user", raw);
        owner.close();
        assertTrue(!raw.isClosed() && !file.isClosed(), "still used by the other backend");
        try (Arena arena = Arena.ofShared()) {
            user.write(0, arena.allocate(4096, 4096), 0);
        }
        user.close();
        assertTrue(raw.isClosed() && file.isClosed(), "closed with their last user");
        assertTrue(BlockNode.allNodes().isEmpty(), BlockNode.allNodes().toString());
    }

    @Test
    void aFilterInsertedAndRemovedUnderABackendSeesItsRequests() {
        BlockBackend blk = BlockBackend.open("b", new ImageSpec.Null(1 << 20, true), main);
        BlockNode base = blk.root();
        AtomicReference<ErrorInjectionDriver> driver = new AtomicReference<>();
        BlockNode filter = BlockGraph.insertFilter(base, "debug", edge -> {
            ErrorInjectionDriver d = ErrorInjectionDriver.open(edge);
            driver.set(d);
            return d;
        });
        assertSame(filter, blk.root(), "the backend now uses the filter");
        assertSame(base, filter.children().getFirst().node());
        assertEquals(1, base.parents().size(), "only the filter points at the base");
        try (Arena arena = Arena.ofShared()) {
            driver.get().addRule(ErrorRule.fail(Errno.EIO, RequestKind.READ));
            BlockIoException e = assertThrows(BlockIoException.class, () -> blk.read(0, arena.allocate(512)));
            assertEquals(Errno.EIO, e.errno());
            BlockGraph.removeFilter(filter);
            assertSame(base, blk.root(), "the backend uses the base again");
            blk.read(0, arena.allocate(512)); // no filter, no error
        }
        blk.close();
    }

    @Test
    void replaceNodeRedirectsEveryParent() {
        BlockBackend blk = BlockBackend.open("b", new ImageSpec.Null(1 << 20, true), main);
        BlockBackend other = BlockBackend.open("o", new ImageSpec.Null(2 << 20, true), main);
        BlockNode old = blk.root();
        BlockGraph.replaceNode(old, other.root());
        assertEquals(2 << 20, blk.length());
        assertEquals(0, old.parents().size());
        blk.close();
        other.close();
        old.close();
    }

    @Test
    void moveToContextTakesTheWholeGraphAndTheBackendFollows() throws Exception {
        try (IOThread io = new IOThread("move").start(); Arena arena = Arena.ofShared()) {
            BlockBackend blk = BlockBackend.open("b", new ImageSpec.Null(1 << 20, true), main);
            BlockNode filter = BlockGraph.insertFilter(blk.root(), null, ErrorInjectionDriver::open);
            BlockGraph.moveToContext(filter, io.context());
            assertSame(io.context(), blk.context());
            assertSame(io.context(), filter.children().getFirst().node().context());
            CompletableFuture<Void> read = blk.readAsync(0, arena.allocate(512));
            await(read);
            read.join();
            BlockGraph.moveToContext(filter, main);
            blk.read(0, arena.allocate(512));
            BlockGraph.removeFilter(filter);
            blk.close();
        }
    }

    @Test
    void aDrainLiftsAThrottleSoItsWaitingRequestsFinish() {
        BlockBackend blk = BlockBackend.open("b", new ImageSpec.Null(1 << 20, true), main);
        BlockNode filter = BlockGraph.insertFilter(blk.root(), "slow", edge -> ThrottleDriver.open(edge,
                ThrottleLimits.NONE.withIopsTotal(new ThrottleLimit(1, 1))));
        try (Arena arena = Arena.ofShared()) {
            List<CompletableFuture<Void>> reads = new ArrayList<>();
            for (int i = 0; i < 5; i++) {
                reads.add(blk.readAsync(0, arena.allocate(512))); // one per second: the last would wait 4 s
            }
            blk.drain();
            assertTrue(reads.stream().allMatch(CompletableFuture::isDone), "the drain flushed the throttled queue");
            ThrottleDriver throttle = (ThrottleDriver) filter.driver();
            assertTrue(!throttle.limitsDisabled(), "the limits are back after the drain");
        }
        BlockGraph.removeFilter(filter);
        blk.close();
    }

    @Test
    void drainFromAnIoThreadCoroutineHoldingTheReadLockDoesNotDeadlockTheWriter() throws Exception {
        try (IOThread io = new IOThread("reader").start()) {
            BlockBackend blk = BlockBackend.open("b", new ImageSpec.Null(1 << 20, true), io.context());
            BlockNode node = blk.root();
            CompletableFuture<Void> holding = new CompletableFuture<>();
            CompletableFuture<Void> drainedInside = new CompletableFuture<>();
            AtomicReference<Throwable> failure = new AtomicReference<>();
            Coroutine.create(() -> {
                GraphLock.global().readLock();
                try {
                    holding.complete(null);
                    node.drainedBegin(); // handed to the main loop, which is busy taking the write lock
                    node.drainedEnd();
                    drainedInside.complete(null);
                } catch (Throwable t) {
                    failure.set(t);
                } finally {
                    GraphLock.global().readUnlock();
                }
            }).enterIn(io.context());
            holding.get(10, TimeUnit.SECONDS);
            // The watchdog: a deadlock makes tryWriteLock give up after 10 s instead of hanging the build.
            boolean locked = GraphLock.global().tryWriteLock(BOUND_NS);
            if (locked) {
                GraphLock.global().writeUnlock();
            }
            assertTrue(locked, "the writer got the lock: the reader's drain ran inside the writer's wait");
            assertTrue(drainedInside.isDone());
            assertNull(failure.get());
            AioWait.runInContext(io.context(), () -> {
            });
            blk.close();
        }
    }
}
