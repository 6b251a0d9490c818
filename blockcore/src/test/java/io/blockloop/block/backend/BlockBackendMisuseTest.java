package io.blockloop.block.backend;

import io.blockloop.aio.AioContext;
import io.blockloop.aio.AioWait;
import io.blockloop.aio.IOThread;
import io.blockloop.aio.testing.IoThreads;
import io.blockloop.block.BlockIoException;
import io.blockloop.block.BlockNode;
import io.blockloop.block.CacheMode;
import io.blockloop.block.IoVector;
import io.blockloop.block.file.AioMode;
import io.blockloop.block.file.FileOptions;
import io.blockloop.coroutine.Coroutine;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What a caller of the block layer can get wrong, and that each mistake gets a clear exception while the backend,
 * its context and the data go on. Each case was found by probing the API from outside: before, they crashed the
 * JVM, wrote into another file, hung a caller for ever, or left the context failing every request.
 */
class BlockBackendMisuseTest {
    private AioContext main;
    private Path dir;

    @BeforeEach
    void setUp() throws IOException {
        main = BlockImages.mainLoop();
        dir = BlockImages.tempDir();
    }

    @AfterEach
    void tearDown() {
        main.close(); // also fails the test when a BH of the main context leaked
    }

    private ImageSpec image(String name) throws IOException {
        return new ImageSpec.Raw(FileOptions.of(BlockImages.image(dir, name, 1 << 20).toString()));
    }

    /**
     * The blocking API refuses a buffer confined to a thread that is neither the caller nor the loop, as the
     * asynchronous API does: that thread could close its arena while the kernel writes into it. Before, the
     * engine got the address, and the JVM crashed when the arena went first.
     */
    @Test
    void theBlockingApiRefusesABufferConfinedToAThirdThread() throws Exception {
        try (IOThread io = new IOThread("io0").start();
             BlockBackend blk = BlockBackend.open("t", image("img"), io.context());
             Arena shared = Arena.ofShared()) {
            SynchronousQueue<MemorySegment> handOver = new SynchronousQueue<>();
            CountDownLatch done = new CountDownLatch(1);
            Thread owner = Thread.ofPlatform().name("owner").start(() -> {
                try (Arena confined = Arena.ofConfined()) {
                    handOver.put(confined.allocate(8192, 4096));
                    done.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            MemorySegment foreign = handOver.take();
            try {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> blk.read(0, foreign));
                assertEquals("I/O buffer 0 of 1 is confined to a thread other than the caller '"
                        + Thread.currentThread().getName() + "' and 'IO io0', where the request runs: that thread"
                        + " could free it while the kernel uses it; allocate it from a shared arena, or from one of"
                        + " the calling thread", e.getMessage());
                IoVector mixed = IoVector.of(shared.allocate(4096, 4096), foreign.asSlice(1, 4096));
                assertTrue(assertThrows(IllegalArgumentException.class, () -> blk.writev(0, mixed, 0)).getMessage()
                        .startsWith("I/O buffer 1 of 2 is confined to a thread other than the caller"));
            } finally {
                done.countDown();
                owner.join();
            }
            blk.read(0, shared.allocate(4096, 4096)); // the backend goes on
            assertEquals(0, blk.inFlight());
        }
    }

    /**
     * A coroutine of another context lends its confined, misaligned buffer for the request, as a blocking caller
     * does: before, the IOThread's bounce copy threw WrongThreadException at it.
     */
    @Test
    void aCoroutineOfAnotherContextLendsItsConfinedBufferForTheRequest() throws Exception {
        try (IOThread io = new IOThread("io0").start();
             BlockBackend blk = BlockBackend.open("t", image("img"), io.context());
             Arena confined = Arena.ofConfined()) {
            byte[] data = BlockImages.randomBytes(5, 3000);
            MemorySegment out = BlockImages.buffer(confined, data, 1);
            MemorySegment back = confined.allocate(3000 + 4096, 4096).asSlice(3, 3000);
            AtomicReference<Throwable> failure = new AtomicReference<>();
            CountDownLatch done = new CountDownLatch(1);
            Coroutine.create(() -> {
                try {
                    blk.coWrite(7, out, 0);
                    blk.coRead(7, back);
                } catch (Throwable t) {
                    failure.set(t);
                } finally {
                    done.countDown();
                }
            }).enter();
            AioWait.waitWhile(main, () -> done.getCount() > 0);
            assertNull(failure.get());
            assertArrayEquals(data, BlockImages.bytes(back));
        }
    }

    /**
     * A request's future ends only with the request: its caller cannot complete it early (which had told it the
     * buffer was free while the kernel still had it), and the methods that would complete it later or by force
     * are refused with what to use instead.
     */
    @Test
    void theCallerCannotCompleteARequestsFuture() throws Exception {
        try (IOThread io = new IOThread("io0").start();
             BlockBackend blk = BlockBackend.open("t", image("img"), io.context());
             Arena arena = Arena.ofShared()) {
            byte[] data = BlockImages.randomBytes(9, 4096);
            blk.write(0, BlockImages.buffer(arena, data, 0), 0);
            MemorySegment back = arena.allocate(4096, 4096);
            CompletableFuture<Void> f = blk.readAsync(0, back);
            assertFalse(f.complete(null));
            assertFalse(f.completeExceptionally(new RuntimeException("early")));
            UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class,
                    () -> f.orTimeout(1, TimeUnit.SECONDS));
            assertEquals("orTimeout on the future of a request on 't': it completes only when the request ends,"
                    + " since until then the kernel may use the buffer; wait with get(timeout, unit), or on a"
                    + " dependent stage (thenApply, ...)", e.getMessage());
            assertThrows(UnsupportedOperationException.class, () -> f.obtrudeValue(null));
            assertThrows(UnsupportedOperationException.class, () -> f.completeOnTimeout(null, 1, TimeUnit.SECONDS));
            assertThrows(UnsupportedOperationException.class, () -> f.completeAsync(() -> null));
            f.get(10, TimeUnit.SECONDS);
            assertFalse(f.isCompletedExceptionally());
            assertArrayEquals(data, BlockImages.bytes(back));
            // A dependent stage is the caller's own future, to complete or time out as it likes.
            CompletableFuture<Void> own = blk.readAsync(0, back).thenRun(() -> { });
            own.orTimeout(10, TimeUnit.SECONDS).get(10, TimeUnit.SECONDS);
        }
    }

    /**
     * close() in a request's completion callback (which runs in the request's coroutine) is refused: there its
     * drain yielded to the main loop, the caller's wait had already ended, and the close stayed half done with its
     * hand-off BH leaked in the main context (the tear-down's close of the main loop checks that none is).
     */
    @Test
    void closingABackendFromACompletionCallbackIsRefused() throws Exception {
        BlockBackend blk = BlockBackend.open("t", image("img"), main);
        try (Arena arena = Arena.ofShared()) {
            MemorySegment buf = arena.allocate(4096, 4096);
            AtomicReference<Throwable> inCallback = new AtomicReference<>();
            CompletableFuture<Void> f = blk.readAsync(0, buf);
            f.whenComplete((v, t) -> inCallback.set(assertThrows(IllegalStateException.class, blk::close)));
            f.get(10, TimeUnit.SECONDS);
            assertEquals("BlockBackend.close of 't' from a coroutine (a request's completion callback runs in one):"
                    + " close it from plain main-loop code", inCallback.get().getMessage());
            blk.read(0, buf); // still open
        } finally {
            blk.close();
        }
    }

    /**
     * open() checks its arguments, and that the context is not closing, before it opens anything: a null context
     * had been found only after the image was opened and locked, and both stayed so for the life of the process.
     */
    @Test
    void openRefusesBadArgumentsBeforeItOpensTheImage() throws Exception {
        ImageSpec spec = image("img");
        long fds = BlockImages.openFdCount();
        assertEquals("ctx", assertThrows(NullPointerException.class,
                () -> BlockBackend.open("x", spec, null)).getMessage());
        IOThread io = new IOThread("io0").start();
        io.close();
        IllegalStateException closing = assertThrows(IllegalStateException.class,
                () -> BlockBackend.open("y", spec, io.context()));
        assertEquals("block backend 'y' cannot open in context 'io0': it is closing (its IOThread stopped)",
                closing.getMessage());
        assertEquals(fds, BlockImages.openFdCount());
        BlockBackend.open("z", spec, main).close(); // neither refusal left the image locked
    }

    /**
     * A closed node cannot get a new parent: its fd number may belong to another file by then, and a backend
     * attached over it wrote into that file.
     */
    @Test
    void aClosedNodeCannotBeAttached() throws Exception {
        BlockBackend first = BlockBackend.open("first", image("img"), main);
        BlockNode node = first.root();
        first.close();
        assertTrue(node.isClosed());
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> BlockBackend.attach("second", node));
        assertEquals("node '" + node.name() + "' is closed: it cannot be attached as 'root'", e.getMessage());
    }

    /**
     * A node's I/O methods refuse any caller but a coroutine of the node's context, also without {@code -ea}.
     * Before, a plain thread's read opened the context's engine on that thread, and from then on every request of
     * the context failed and its loop logged an error on each iteration. Moving a node is the main loop's.
     */
    @Test
    void nodeIoOutsideItsContextIsRefusedAndTheContextGoesOn() throws Exception {
        try (IOThread io = new IOThread("io0").start();
             BlockBackend blk = BlockBackend.open("t", image("img"), io.context());
             Arena arena = Arena.ofShared()) {
            BlockNode node = blk.root();
            IoVector one = IoVector.of(arena.allocate(4096, 4096));
            AtomicReference<Throwable> plain = new AtomicReference<>();
            Thread t = Thread.ofPlatform().name("plain").start(
                    () -> plain.set(assertThrows(IllegalStateException.class, () -> node.coPreadv(0, 4096, one, 0))));
            t.join();
            assertEquals("I/O on node '" + node.name() + "' must run in a coroutine of its context 'io0', not in plain"
                    + " code on thread 'plain'; use a BlockBackend from other threads", plain.get().getMessage());

            AtomicReference<Throwable> fromMain = new AtomicReference<>();
            CountDownLatch done = new CountDownLatch(1);
            Coroutine.create(() -> {
                fromMain.set(assertThrows(IllegalStateException.class, node::coFlush));
                done.countDown();
            }).enter();
            AioWait.waitWhile(main, () -> done.getCount() > 0);
            assertTrue(fromMain.get().getMessage().contains("must run in a coroutine of its context 'io0', not in "
                    + "Coroutine#"), fromMain.get().getMessage());

            Thread mover = Thread.ofPlatform().name("mover").start(
                    () -> plain.set(assertThrows(IllegalStateException.class, () -> node.setContext(main))));
            mover.join();
            assertTrue(plain.get().getMessage().startsWith("BlockNode.setContext runs in the main loop"),
                    plain.get().getMessage());

            byte[] data = BlockImages.randomBytes(4, 4096);
            blk.write(0, BlockImages.buffer(arena, data, 0), 0); // the context's engine works
            MemorySegment back = arena.allocate(4096, 4096);
            blk.read(0, back);
            assertArrayEquals(data, BlockImages.bytes(back));
        }
    }

    /**
     * A data request above the largest one says so and names the limit; it had failed with a bare "Invalid
     * argument". (The segment only claims the size: the request is refused before its memory is touched.)
     */
    @Test
    @SuppressWarnings("restricted")
    void aRequestAboveTheLargestSaysTheLimit() throws Exception {
        try (BlockBackend blk = BlockBackend.open("n", new ImageSpec.Null(4L << 30, true), main);
             Arena arena = Arena.ofConfined()) {
            long bytes = BlockNode.MAX_REQUEST_BYTES + 512;
            MemorySegment claimed = arena.allocate(4096, 4096).reinterpret(bytes);
            BlockIoException e = assertThrows(BlockIoException.class, () -> blk.write(0, claimed, 0));
            assertEquals("write of " + bytes + " bytes at offset 0 on 'n': larger than the largest request, "
                    + BlockNode.MAX_REQUEST_BYTES + " bytes", e.getMessage());
        }
    }

    /**
     * Requests parked by a drained section whose IOThread closes meanwhile fail when the section ends, with the
     * backend's message; before, the blocking caller and the future waited for ever.
     */
    @Test
    void requestsParkedByADrainFailWhenTheirIoThreadClosedMeanwhile() throws Exception {
        IOThread io = new IOThread("io0").start();
        BlockBackend blk = BlockBackend.open("t", image("img"), io.context());
        try (Arena arena = Arena.ofShared()) {
            MemorySegment buf = arena.allocate(4096, 4096);
            blk.read(0, buf);
            blk.root().drainedBegin();
            AtomicReference<Throwable> blocking = new AtomicReference<>();
            Thread caller = Thread.ofPlatform().start(() -> blocking.set(assertThrows(IllegalStateException.class,
                    () -> blk.read(0, buf))));
            // Parked in io0, not merely a caller that waits somewhere: the close must find both requests queued.
            IoThreads.waitUntil(() -> blk.parkedRequests() == 1, "the blocking read parked by the drain");
            CompletableFuture<Void> async = blk.readAsync(0, buf);
            IoThreads.waitUntil(() -> blk.parkedRequests() == 2, "the asynchronous read parked by the drain");
            assertFalse(async.isDone());
            io.close();
            blk.root().drainedEnd();
            caller.join(TimeUnit.SECONDS.toMillis(10));
            assertFalse(caller.isAlive(), "the blocking caller still waits");
            String message = "a request on 't' cannot go on: its context 'io0' is closing (its IOThread stopped);"
                    + " close the backend, or move it to a running context";
            assertEquals(message, blocking.get().getMessage());
            ExecutionException e = assertThrows(ExecutionException.class, () -> async.get(10, TimeUnit.SECONDS));
            assertEquals(message, e.getCause().getMessage());
            assertEquals(0, blk.inFlight());
            assertEquals(0, blk.parkedRequests());
        } finally {
            blk.close();
        }
    }

    /**
     * A backend with a registered buffer closes after its IOThread stopped, in one call. Before, the close ran the
     * buffer's unregistration as a coroutine in the closing context, which threw, and the backend stayed open with
     * its fd and image lock until a second close.
     */
    @Test
    void aBackendWithARegisteredBufferClosesAfterItsIOThreadStopped() throws IOException {
        IOThread io = new IOThread("io0").start();
        ImageSpec spec = new ImageSpec.Raw(FileOptions.of(BlockImages.image(dir, "img", 1 << 20).toString())
                .withCache(CacheMode.NONE).withAio(AioMode.IO_URING));
        BlockBackend blk = BlockBackend.open("t", spec, io.context());
        try (Arena arena = Arena.ofShared()) {
            MemorySegment buf = arena.allocate(1 << 16, 4096);
            assertTrue(blk.registerBuffer(buf), "io_uring did not take the buffer");
            blk.write(0, buf, 0);
            io.close();
            blk.close();
            // Closed for good: the image's lock is free for another backend.
            BlockBackend.open("again", spec, main).close();
        } finally {
            blk.close(); // idempotent; after a failed first close, it finished what was left
        }
    }

    /**
     * {@code get} with a timeout of 0 or less on a request that is not done throws {@link TimeoutException} at once,
     * in a coroutine too, as {@code CompletableFuture} and the main loop's wait do. Before, a coroutine read a
     * negative timeout as none and waited until the request ended.
     */
    @Test
    void getWithATimeoutOfZeroOrLessTimesOutAtOnceInACoroutine() throws Exception {
        try (IOThread io = new IOThread("io0").start();
             BlockBackend blk = BlockBackend.open("t", image("img"), io.context());
             Arena arena = Arena.ofShared()) {
            MemorySegment buf = arena.allocate(4096, 4096);
            CompletableFuture<Void> parked;
            List<String> outcomes = new ArrayList<>();
            blk.root().drainedBegin(); // parks the next request until the section ends
            try {
                parked = blk.readAsync(0, buf);
                IoThreads.waitUntil(() -> blk.parkedRequests() == 1, "the read parked by the drain");
                for (long timeout : new long[]{-1, 0, Long.MIN_VALUE}) {
                    Coroutine.create(() -> {
                        try {
                            parked.get(timeout, TimeUnit.NANOSECONDS);
                            outcomes.add(timeout + ": returned");
                        } catch (TimeoutException e) {
                            outcomes.add(timeout + ": timed out");
                        } catch (Exception e) {
                            outcomes.add(timeout + ": " + e);
                        }
                    }).enter(); // a timeout that runs out at once ends inside this enter
                }
                assertEquals(List.of("-1: timed out", "0: timed out", Long.MIN_VALUE + ": timed out"), outcomes);
            } finally {
                blk.root().drainedEnd();
            }
            parked.get(10, TimeUnit.SECONDS);
        }
    }
}
