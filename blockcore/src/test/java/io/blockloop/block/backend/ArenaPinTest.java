package io.blockloop.block.backend;

import io.blockloop.aio.AioContext;
import io.blockloop.aio.AioWait;
import io.blockloop.aio.testing.IoThreads;
import io.blockloop.block.BlockNode;
import io.blockloop.block.IoVector;
import io.blockloop.block.testing.MemoryDriver;
import io.blockloop.coroutine.Coroutine;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A request keeps its buffers' arenas open until it ends (session 28): closing one meanwhile throws, where it used
 * to free memory the kernel could still write. A request that is refused pins nothing.
 */
@Timeout(60)
class ArenaPinTest {
    private AioContext main;
    private MemoryDriver storage;
    private BlockNode node;
    private BlockBackend blk;

    @BeforeEach
    void setUp() {
        main = BlockImages.mainLoop();
        storage = new MemoryDriver(64 << 10, 512);
        storage.data[100] = 42;
        node = new BlockNode("memory", storage, main);
        blk = BlockBackend.attach("blk", node);
    }

    @AfterEach
    void tearDown() {
        if (storage.readHeld()) {
            storage.releaseRead(); // a failed check left it held: the close below would wait for it
        }
        blk.close();
        node.close();
        main.close();
    }

    @Test
    void anArenaCannotBeClosedWhileAReadIntoItRuns() {
        Arena arena = Arena.ofShared();
        MemorySegment buffer = arena.allocate(4096, 4096);
        storage.holdNextRead();
        CompletableFuture<Void> read = blk.readAsync(0, buffer);
        assertTrue(storage.readHeld());
        IllegalStateException refused = assertThrows(IllegalStateException.class, arena::close);
        assertTrue(refused.getMessage().contains("acquired"), refused.getMessage());
        storage.releaseRead();
        AioWait.waitWhile(main, () -> !read.isDone());
        read.join();
        assertEquals(42, buffer.get(ValueLayout.JAVA_BYTE, 100), "the read's data");
        assertDoesNotThrow(arena::close, "the request ended: nothing pins the arena any more");
    }

    @Test
    void everyArenaOfAVectorStaysOpenUntilTheWriteEnds() {
        Arena first = Arena.ofShared();
        Arena second = Arena.ofShared();
        IoVector qiov = IoVector.of(first.allocate(512, 512), second.allocate(512, 512), first.allocate(512, 512));
        storage.holdNextRead();
        CompletableFuture<Void> write = blk.writevAsync(1, qiov, 0); // padded: its read of the block is held
        assertTrue(storage.readHeld());
        assertThrows(IllegalStateException.class, first::close);
        assertThrows(IllegalStateException.class, second::close);
        storage.releaseRead();
        AioWait.waitWhile(main, () -> !write.isDone());
        write.join();
        assertDoesNotThrow(first::close);
        assertDoesNotThrow(second::close);
    }

    @Test
    void aRequestRefusedForAClosedArenaLeavesTheOthersUnpinned() {
        Arena open = Arena.ofShared();
        Arena closed = Arena.ofShared();
        IoVector qiov = IoVector.of(open.allocate(512, 512), closed.allocate(512, 512));
        closed.close();
        IllegalStateException refused = assertThrows(IllegalStateException.class, () -> blk.readv(0, qiov));
        assertEquals("I/O buffer 1 of 2: its arena is already closed", refused.getMessage());
        assertDoesNotThrow(open::close, "the refused request left the first buffer's arena pinned");
    }

    @Test
    void aReadOnlyBufferOfAReadIsRefusedAndPinsNothing() {
        Arena arena = Arena.ofShared();
        IoVector qiov = IoVector.of(arena.allocate(512, 512), arena.allocate(512, 512).asReadOnly());
        assertThrows(IllegalArgumentException.class, () -> blk.readv(0, qiov));
        assertDoesNotThrow(arena::close);
    }

    @Test
    void aCoroutinesConfinedBufferIsPinnedAndReleasedOnItsOwnThread() {
        boolean[] closedEarly = {false};
        Arena[] arena = new Arena[1];
        Coroutine.create(() -> {
            arena[0] = Arena.ofConfined();
            MemorySegment buffer = arena[0].allocate(512, 512);
            blk.coRead(0, buffer);
            closedEarly[0] = buffer.get(ValueLayout.JAVA_BYTE, 100) != 42;
        }).enter();
        assertFalse(closedEarly[0], "the read's data");
        assertDoesNotThrow(arena[0]::close);
    }

    /**
     * A blocking read from the main loop lends a buffer confined to the main thread to the IOThread as a view of no
     * arena, which the request cannot pin; the main loop's callbacks run while it waits, and one of them closed the
     * arena under the read (found by a review in session 28). The caller's own buffers are pinned for the call now.
     */
    @Test
    void aBlockingCallersConfinedBufferStaysOpenWhileTheMainLoopRunsCallbacks() {
        try (IoThreads io = new IoThreads("arena-pin", 1)) {
            MemoryDriver slow = new MemoryDriver(64 << 10, 512);
            slow.data[7] = 9;
            BlockNode ioNode = new BlockNode("memory-io0", slow, io.ctx(0));
            BlockBackend ioBlk = BlockBackend.attach("io-blk", ioNode);
            try {
                Arena confined = Arena.ofConfined();
                MemorySegment buffer = confined.allocate(4096, 4096);
                slow.holdNextRead();
                AtomicReference<Object> closing = closeOnceTheReadIsHeld(main, slow, confined, io.ctx(0));
                ioBlk.read(0, buffer); // the main loop runs that callback while this waits
                assertRefusedAsPinned(closing.get(), "closing the caller's arena during its blocking read");
                assertEquals(9, buffer.get(ValueLayout.JAVA_BYTE, 7), "the read's data");
                assertDoesNotThrow(confined::close);
            } finally {
                ioBlk.close();
                ioNode.close();
            }
        }
    }

    /**
     * A coroutine of the main loop may read into buffers confined to the backend's own IOThread, which does the
     * request; their arena is pinned there, so another callback of that thread cannot close it meanwhile. The first
     * pinning refused such buffers, and the fix for that pinned nothing (a review found both in session 28).
     */
    @Test
    void aCoroutinesBuffersConfinedToTheBackendsThreadArePinnedThere() {
        try (IoThreads io = new IoThreads("arena-pin", 1)) {
            MemoryDriver slow = new MemoryDriver(64 << 10, 512);
            BlockNode ioNode = new BlockNode("memory-io0", slow, io.ctx(0));
            BlockBackend ioBlk = BlockBackend.attach("io-blk", ioNode);
            try {
                Arena arena = io.callIn(0, Arena::ofConfined);
                IoVector qiov = io.callIn(0, () -> IoVector.of(arena.allocate(512, 512), arena.allocate(512, 512)));
                slow.holdNextRead();
                AtomicReference<Object> outcome = enterRequest(() -> ioBlk.coReadv(0, qiov));
                AtomicReference<Object> closing = closeOnceTheReadIsHeld(io.ctx(0), slow, arena, io.ctx(0));
                AioWait.waitWhile(main, () -> closing.get() == null || outcome.get() == null); // main hands it over
                assertEquals("ok", outcome.get());
                assertRefusedAsPinned(closing.get(), "closing the IOThread's arena during the read");
                io.runIn(0, arena::close); // the owner closes it afterwards
            } finally {
                ioBlk.close();
                ioNode.close();
            }
        }
    }

    /**
     * A coroutine of the backend's own context is refused a buffer confined to a third thread, as the other APIs
     * refuse it: that thread, which does not wait for the request, could free it under the kernel. It was passed on
     * unpinned (a review found it in session 28).
     */
    @Test
    void aCoroutineOfTheBackendsContextIsRefusedAThirdThreadsBuffer() throws InterruptedException {
        CountDownLatch handedOver = new CountDownLatch(1);
        CountDownLatch done = new CountDownLatch(1);
        AtomicReference<MemorySegment> foreign = new AtomicReference<>();
        Thread third = Thread.ofPlatform().name("third").start(() -> {
            try (Arena confined = Arena.ofConfined()) {
                foreign.set(confined.allocate(512, 512));
                handedOver.countDown();
                done.await(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        try {
            assertTrue(handedOver.await(10, TimeUnit.SECONDS));
            Object outcome = enterRequest(() -> blk.coRead(0, foreign.get())).get();
            assertTrue(outcome instanceof IllegalArgumentException e
                    && e.getMessage().contains("confined to a thread other than 'main'"), String.valueOf(outcome));
        } finally {
            done.countDown();
            third.join();
        }
    }

    /**
     * A request whose buffer's arena the backend's own thread closes while the request travels there fails, and its
     * coroutine goes back to its own context. The loop's pin threw outside the request's cleanup, and the caller's
     * coroutine went on in the backend's IOThread (a review found it in session 28).
     */
    @Test
    void aRequestRefusedInTheBackendsContextGoesBackToItsOwn() throws InterruptedException {
        try (IoThreads io = new IoThreads("arena-pin", 1)) {
            BlockNode ioNode = new BlockNode("memory-io0", storage, io.ctx(0));
            BlockBackend ioBlk = BlockBackend.attach("io-blk", ioNode);
            try {
                Arena arena = io.callIn(0, Arena::ofConfined);
                MemorySegment buffer = io.callIn(0, () -> arena.allocate(512, 512));
                CountDownLatch go = new CountDownLatch(1);
                CountDownLatch blocked = new CountDownLatch(1);
                io.ctx(0).scheduleOneShot("block-then-close", () -> {
                    blocked.countDown();
                    IoThreads.await(go, "the request's start");
                    arena.close(); // runs before the request, which is queued behind this callback
                });
                IoThreads.await(blocked, "the IOThread blocked");
                AtomicReference<AioContext> after = new AtomicReference<>();
                AtomicReference<Object> outcome = enterRequest(() -> {
                    try {
                        ioBlk.coRead(0, buffer);
                    } finally {
                        after.set(Coroutine.self().context());
                    }
                });
                go.countDown();
                AioWait.waitWhile(main, () -> after.get() == null);
                assertTrue(outcome.get() instanceof IllegalStateException e && e.getMessage().contains("closed"),
                        String.valueOf(outcome.get()));
                assertSame(main, after.get(), "the coroutine did not come back to the main loop; " + outcome.get());
            } finally {
                ioBlk.close();
                ioNode.close();
            }
        }
    }

    /** Enters {@code request} as a coroutine; its outcome, once it ended: "ok" or what it threw. */
    private static AtomicReference<Object> enterRequest(Runnable request) {
        AtomicReference<Object> outcome = new AtomicReference<>();
        Coroutine.create(() -> {
            try {
                request.run();
                outcome.set("ok");
            } catch (RuntimeException e) {
                outcome.set(e);
            }
        }).enter();
        return outcome;
    }

    /**
     * In {@code ctx}, as soon as {@code slow} holds a read: tries to close {@code arena}, records what happened
     * ("closed", or what the close threw), then lets the read go on in the driver's context {@code driverCtx}.
     */
    private static AtomicReference<Object> closeOnceTheReadIsHeld(AioContext ctx, MemoryDriver slow, Arena arena,
                                                                  AioContext driverCtx) {
        AtomicReference<Object> outcome = new AtomicReference<>();
        ctx.scheduleOneShot("close-under-the-read", new Runnable() {
            @Override
            public void run() {
                if (!slow.readHeld()) {
                    ctx.scheduleOneShot("close-under-the-read", this); // not there yet: look again
                    return;
                }
                Object result;
                try {
                    arena.close();
                    result = "closed";
                } catch (IllegalStateException refused) {
                    result = refused;
                }
                driverCtx.scheduleOneShot("release-the-read", slow::releaseRead);
                outcome.set(result);
            }
        });
        return outcome;
    }

    private static void assertRefusedAsPinned(Object closeOutcome, String what) {
        assertTrue(closeOutcome instanceof IllegalStateException e && e.getMessage().contains("acquired"),
                what + ": " + closeOutcome);
    }
}
