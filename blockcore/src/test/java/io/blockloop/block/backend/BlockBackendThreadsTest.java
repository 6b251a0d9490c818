package io.blockloop.block.backend;

import io.blockloop.aio.AioContext;
import io.blockloop.aio.AioWait;
import io.blockloop.aio.IOThread;
import io.blockloop.block.BlockIoException;
import io.blockloop.block.CacheMode;
import io.blockloop.block.IoVector;
import io.blockloop.block.RequestFlags;
import io.blockloop.block.Warnings;
import io.blockloop.block.file.AioMode;
import io.blockloop.block.file.FileDriver;
import io.blockloop.block.file.FileOptions;
import io.blockloop.coroutine.Coroutine;
import io.blockloop.ffm.errno.Errno;
import io.blockloop.ffm.libc.Fcntl;
import io.blockloop.ffm.libc.OpenFlags;
import io.blockloop.ffm.testing.LoopDevice;
import io.blockloop.ffm.testing.Posix;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CompletionException;
import java.util.List;
import java.util.ArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * BlockBackend from every kind of caller (the main loop, a plain thread, coroutines of the backend's and of
 * another context) with the nodes living in an IOThread; image locking; block devices.
 */
class BlockBackendThreadsTest {
    private AioContext main;
    private Path dir;

    @BeforeEach
    void setUp() throws IOException {
        main = BlockImages.mainLoop();
        dir = BlockImages.tempDir();
    }

    @AfterEach
    void tearDown() {
        main.close();
    }

    /** A backend named "t" over a new sparse 1 MiB image in the test's directory, its nodes in {@code ctx}. */
    private BlockBackend openImage(AioContext ctx) throws IOException {
        Path file = BlockImages.image(dir, "img", 1 << 20);
        return BlockBackend.open("t", new ImageSpec.Raw(FileOptions.of(file.toString())), ctx);
    }

    @Test
    void everyApiReachesANodeLivingInAnIoThread() throws Exception {
        try (IOThread io = new IOThread("io0").start();
             BlockBackend blk = openImage(io.context());
             Arena arena = Arena.ofShared()) {
            assertSame(io.context(), blk.context());
            byte[] one = BlockImages.randomBytes(1, 4096);
            // Blocking from the main loop (it polls the main context while the IOThread does the work).
            blk.write(0, BlockImages.buffer(arena, one, 0), 0);
            // Blocking from a plain thread.
            byte[] two = BlockImages.randomBytes(2, 4096);
            Thread plain = Thread.ofPlatform().start(() -> blk.write(4096, BlockImages.buffer(arena, two, 0), 0));
            plain.join(TimeUnit.SECONDS.toMillis(10));
            // Asynchronous from the main thread: completed in the IOThread.
            MemorySegment back = arena.allocate(8192, 4096);
            CompletableFuture<Void> f = blk.readAsync(0, back);
            AtomicReference<Thread> completedOn = new AtomicReference<>();
            f.thenRun(() -> completedOn.compareAndSet(null, Thread.currentThread()));
            f.get(10, TimeUnit.SECONDS);
            assertArrayEquals(one, BlockImages.bytes(back.asSlice(0, 4096)));
            assertArrayEquals(two, BlockImages.bytes(back.asSlice(4096, 4096)));
            // A coroutine of the main context: moved to the IOThread for the request and back afterwards.
            AtomicReference<AioContext> after = new AtomicReference<>();
            AtomicReference<Throwable> failure = new AtomicReference<>();
            Coroutine co = Coroutine.create(() -> {
                try {
                    blk.coRead(0, back);
                    after.set(Coroutine.self().context()); // not AioContext.current(): see blockcore/README.md
                } catch (Throwable t) {
                    failure.set(t);
                }
            });
            co.enter();
            AioWait.waitWhile(main, () -> after.get() == null && failure.get() == null);
            assertEquals(null, failure.get());
            assertSame(main, after.get(), "the coroutine came back to its own context");
        }
    }

    @Test
    void coroutineApiFromPlainCodeSaysWhatToUseInstead() throws IOException {
        try (BlockBackend blk = openImage(main);
             Arena arena = Arena.ofConfined()) {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> blk.coRead(0, arena.allocate(512)));
            assertTrue(e.getMessage().contains("from a coroutine"), e.getMessage());
        }
    }

    @Test
    void aSecondWriterIsRefusedWithQemusMessage() throws IOException {
        Path file = BlockImages.image(dir, "img", 1 << 20);
        FileOptions options = FileOptions.of(file.toString());
        try (BlockBackend first = BlockBackend.open("a", new ImageSpec.Raw(options), main)) {
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> BlockBackend.open("b", new ImageSpec.Raw(options), main));
            assertEquals("Failed to get \"write\" lock: is another process using the image " + file + "?",
                    e.getMessage());
            IllegalStateException reader = assertThrows(IllegalStateException.class,
                    () -> BlockBackend.open("c", new ImageSpec.Raw(options.withReadOnly(true)), main));
            assertEquals("Failed to get shared \"write\" lock: is another process using the image " + file + "?",
                    reader.getMessage());
            // force-share (-U) reads anyway
            BlockBackend.open("d", new ImageSpec.Raw(options.withReadOnly(true).withForceShare(true)), main).close();
        }
        // Closing the writer released its locks.
        BlockBackend.open("e", new ImageSpec.Raw(options), main).close();
    }

    /**
     * An O_DIRECT image whose size is not a multiple of the request alignment is refused for writing with QEMU's
     * message: a padded write at its end made the file longer (1000000 bytes became 1003520). Read-only, and with
     * the page cache, it opens; its size stays.
     */
    @Test
    void aWritableODirectImageOfUnalignedSizeIsRefusedAsQemuDoes() throws IOException {
        Path file = BlockImages.image(dir, "odd", 1_000_000);
        FileOptions options = FileOptions.of(file.toString());
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> BlockBackend.open("t", new ImageSpec.Raw(options), main));
        assertTrue(e.getMessage().startsWith("Could not open '" + file + "': Cannot get 'write' permission without "
                + "'resize': Image size is not a multiple of request alignment (1000000 bytes"), e.getMessage());
        BlockBackend.open("r", new ImageSpec.Raw(options.withReadOnly(true)), main).close();
        try (BlockBackend blk = BlockBackend.open("w", new ImageSpec.Raw(options.withCache(CacheMode.WRITEBACK)), main);
             Arena arena = Arena.ofConfined()) {
            blk.write(1_000_000 - 100, BlockImages.buffer(arena, BlockImages.randomBytes(5, 100), 0), 0);
        }
        assertEquals(1_000_000, java.nio.file.Files.size(file));
    }

    @Test
    void twoReadersShareTheImage() throws IOException {
        Path file = BlockImages.image(dir, "img", 1 << 20);
        FileOptions ro = FileOptions.of(file.toString()).withReadOnly(true);
        try (BlockBackend a = BlockBackend.open("a", new ImageSpec.Raw(ro), main);
             BlockBackend b = BlockBackend.open("b", new ImageSpec.Raw(ro), main)) {
            assertEquals(a.length(), b.length());
        }
    }

    @Test
    void cacheModesSetODirectAsJnrSeesIt() throws IOException {
        Path file = BlockImages.image(dir, "img", 1 << 20);
        for (CacheMode cache : CacheMode.values()) {
            FileOptions options = FileOptions.of(file.toString()).withCache(cache).withAio(AioMode.THREADS);
            try (BlockBackend blk = BlockBackend.open("t", new ImageSpec.File(options), main)) {
                int fd = ((FileDriver) blk.root().driver()).fd();
                int flags = Posix.get().fcntl(fd, jnr.constants.platform.Fcntl.F_GETFL);
                assertEquals(cache.direct(), (flags & OpenFlags.O_DIRECT) != 0, cache.option());
                assertEquals(cache.direct(), (Fcntl.getFlags(fd) & OpenFlags.O_DIRECT) != 0, cache.option());
            }
        }
    }

    @Test
    void missingFileFailsWithThePath() {
        Path missing = dir.resolve("nope");
        RuntimeException e = assertThrows(RuntimeException.class,
                () -> BlockBackend.open("t", new ImageSpec.Raw(FileOptions.of(missing.toString())), main));
        assertTrue(e.getMessage().contains("ENOENT") && e.getMessage().contains(missing.toString()), e.getMessage());
    }

    @Test
    void aioAutoPicksTheBestEngineWithoutWarnings() throws IOException {
        Path file = BlockImages.image(dir, "img", 1 << 20);
        StringBuilder warnings = new StringBuilder();
        var old = Warnings.redirect(warnings::append);
        try (BlockBackend blk = BlockBackend.open("t", new ImageSpec.File(FileOptions.of(file.toString())), main)) {
            assertEquals(AioMode.IO_URING, ((FileDriver) blk.root().driver()).engineMode());
        } finally {
            Warnings.redirect(old);
        }
        assertEquals("", warnings.toString());
    }

    @Test
    void blockDeviceDataDiscardAndZeroes() throws Exception {
        Path backing = BlockImages.image(dir, "backing", 8 << 20);
        try (LoopDevice loop = LoopDevice.attach(backing)) {
            FileOptions options = FileOptions.of(loop.path().toString());
            try (BlockBackend blk = BlockBackend.open("dev", new ImageSpec.Raw(options), main);
                 Arena arena = Arena.ofConfined()) {
                assertEquals("host_device", blk.root().children().getFirst().node().driver().formatName());
                assertEquals(8 << 20, blk.length());
                byte[] data = BlockImages.randomBytes(3, 65536);
                blk.write(4096, BlockImages.buffer(arena, data, 0), 0);
                blk.write(70_001, BlockImages.buffer(arena, data, 11), 0); // unaligned and misaligned
                MemorySegment back = arena.allocate(65536, 4096);
                blk.read(70_001, back);
                assertArrayEquals(data, BlockImages.bytes(back));
                blk.writeZeroes(4096, 65536, 0);
                blk.read(4096, back);
                assertArrayEquals(new byte[65536], BlockImages.bytes(back));
                blk.discard(0, 1 << 20);
                blk.flush();
            }
        }
    }

    /**
     * Write-zeroes on a block device keeps its flags' promises: with NO_FALLBACK and without MAY_UNMAP it is refused
     * with EOPNOTSUPP and changes nothing, since the only zeroing the kernel offers then (BLKZEROOUT) writes zero
     * pages when the device cannot zero a range (before, it ran and did exactly that); with MAY_UNMAP too it is the
     * device's own zeroing (a punched hole) or, if the device has none, the same refusal; MAY_UNMAP alone zeroes.
     */
    @Test
    void writeZeroesOnABlockDeviceHonoursNoFallbackAndMayUnmap() throws Exception {
        Path backing = BlockImages.image(dir, "backing", 8 << 20);
        try (LoopDevice loop = LoopDevice.attach(backing);
             BlockBackend blk = BlockBackend.open("dev", new ImageSpec.Raw(FileOptions.of(loop.path().toString())),
                     main);
             Arena arena = Arena.ofConfined()) {
            byte[] data = BlockImages.randomBytes(8, 65536);
            MemorySegment back = arena.allocate(65536, 4096);
            blk.write(0, BlockImages.buffer(arena, data, 0), 0);
            BlockIoException refused = assertThrows(BlockIoException.class,
                    () -> blk.writeZeroes(0, 65536, RequestFlags.NO_FALLBACK));
            assertEquals(Errno.EOPNOTSUPP, refused.errno());
            blk.read(0, back);
            assertArrayEquals(data, BlockImages.bytes(back), "a refused write-zeroes changed the data");

            try {
                blk.writeZeroes(0, 65536, RequestFlags.NO_FALLBACK | RequestFlags.MAY_UNMAP);
                blk.read(0, back);
                assertArrayEquals(new byte[65536], BlockImages.bytes(back));
            } catch (BlockIoException noDeviceZeroing) {
                assertEquals(Errno.EOPNOTSUPP, noDeviceZeroing.errno());
                blk.read(0, back);
                assertArrayEquals(data, BlockImages.bytes(back));
            }

            blk.write(0, BlockImages.buffer(arena, data, 0), 0);
            blk.writeZeroes(0, 65536, RequestFlags.MAY_UNMAP);
            blk.read(0, back);
            assertArrayEquals(new byte[65536], BlockImages.bytes(back));
        }
    }

    /** A read-only block device opens O_RDWR and then fails every write with EPERM; QEMU refuses it at open. */
    @Test
    void aReadOnlyBlockDeviceIsRefusedForWritingAsQemuDoes() throws Exception {
        Path backing = BlockImages.image(dir, "backing", 1 << 20);
        try (LoopDevice loop = LoopDevice.attachReadOnly(backing)) {
            String dev = loop.path().toString();
            FileOptions options = FileOptions.of(dev);
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> BlockBackend.open("w", new ImageSpec.Raw(options), main));
            assertEquals("Could not open '" + dev + "': The device is not writable: Permission denied; open it "
                    + "read-only", e.getMessage());
            try (BlockBackend blk = BlockBackend.open("r", new ImageSpec.Raw(options.withReadOnly(true)), main)) {
                assertEquals(1 << 20, blk.length());
            }
        }
    }

    /**
     * The blocking API from a thread with a buffer of an arena confined to it, on a backend in an IOThread: aligned
     * (the engine gets the address) and misaligned (the loop's thread copies through a bounce buffer, which threw
     * WrongThreadException before the blocking methods lent such buffers to the loop for the call).
     */
    @Test
    void blockingCallsTakeBuffersConfinedToTheCaller() throws Exception {
        try (IOThread io = new IOThread("io0").start();
             BlockBackend blk = openImage(io.context())) {
            AtomicReference<Throwable> failure = new AtomicReference<>();
            Thread caller = Thread.ofPlatform().start(() -> {
                try (Arena confined = Arena.ofConfined()) {
                    for (int misalign : new int[]{0, 1}) {
                        byte[] data = BlockImages.randomBytes(misalign, 6000);
                        blk.write(1000 + misalign, BlockImages.buffer(confined, data, misalign), 0);
                        MemorySegment back = confined.allocate(6000 + 4096, 4096).asSlice(misalign, 6000);
                        blk.read(1000 + misalign, back);
                        assertArrayEquals(data, BlockImages.bytes(back), "misaligned by " + misalign);
                        MemorySegment v1 = confined.allocate(3000 + 1).asSlice(1, 3000);
                        MemorySegment v2 = confined.allocate(3000, 4096).asReadOnly();
                        assertThrows(IllegalArgumentException.class, () -> blk.readv(0, IoVector.of(v1, v2)));
                        MemorySegment w2 = confined.allocate(3000, 4096);
                        blk.readv(1000 + misalign, IoVector.of(v1, w2));
                        assertArrayEquals(Arrays.copyOf(data, 3000), BlockImages.bytes(v1));
                    }
                } catch (Throwable t) {
                    failure.set(t);
                }
            });
            caller.join();
            assertEquals(null, failure.get());
        }
    }

    /**
     * Memory a request could not use safely is refused with a message before anything runs, on every API, and the
     * backend goes on: a read into a read-only segment, a buffer whose arena is closed. A closed backend says so.
     */
    @Test
    void unusableBuffersAndAClosedBackendAreRefusedClearly() throws Exception {
        BlockBackend blk = openImage(main);
        try (Arena arena = Arena.ofShared()) {
            MemorySegment readOnly = arena.allocate(4096, 4096).asReadOnly();
            MemorySegment closed;
            try (Arena gone = Arena.ofShared()) {
                closed = gone.allocate(4096, 4096);
            }
            IllegalArgumentException ro = assertThrows(IllegalArgumentException.class, () -> blk.read(0, readOnly));
            assertTrue(ro.getMessage().contains("read-only"), ro.getMessage());
            java.util.concurrent.ExecutionException async = assertThrows(java.util.concurrent.ExecutionException.class,
                    () -> blk.readAsync(0, readOnly).get(10, TimeUnit.SECONDS));
            assertTrue(async.getCause() instanceof IllegalArgumentException, String.valueOf(async.getCause()));
            blk.write(0, readOnly, 0); // writing from a read-only buffer is fine
            for (var call : java.util.List.<org.junit.jupiter.api.function.Executable>of(
                    () -> blk.read(0, closed), () -> blk.write(0, closed, 0))) {
                IllegalStateException x = assertThrows(IllegalStateException.class, call);
                assertTrue(x.getMessage().contains("arena is already closed"), x.getMessage());
            }
            byte[] data = BlockImages.randomBytes(7, 4096);
            blk.write(8192, BlockImages.buffer(arena, data, 0), 0);
            MemorySegment back = arena.allocate(4096, 4096);
            blk.read(8192, back);
            assertArrayEquals(data, BlockImages.bytes(back));
            assertEquals(0, blk.inFlight());
            blk.close();
            BlockIoException x = assertThrows(BlockIoException.class, () -> blk.read(0, back));
            assertTrue(x.getMessage().contains("the backend is closed"), x.getMessage());
        } finally {
            blk.close();
        }
    }

    /** A request cannot be withdrawn: cancel() answers false and the future completes with the data read. */
    @Test
    void cancellingAnAsynchronousRequestLeavesItRunning() throws Exception {
        try (IOThread io = new IOThread("io0").start();
             BlockBackend blk = openImage(io.context());
             Arena arena = Arena.ofShared()) {
            byte[] data = BlockImages.randomBytes(3, 4096);
            blk.write(0, BlockImages.buffer(arena, data, 0), 0);
            MemorySegment back = arena.allocate(4096, 4096);
            CompletableFuture<Void> f = blk.readAsync(0, back);
            assertEquals(false, f.cancel(true));
            f.get(10, TimeUnit.SECONDS);
            assertEquals(false, f.isCancelled());
            assertArrayEquals(data, BlockImages.bytes(back));
        }
    }

    /**
     * join and get of a request's future, called in the backend's own IOThread, wait without stopping it: in a
     * bottom half they poll the loop; in a callback of another request, which runs in that request's coroutine,
     * they yield until the completion wakes them. Before, the IOThread stopped in the wait, nobody could complete
     * the request, and the thread and the backend's close hung for good.
     */
    @Test
    void waitingForARequestInItsOwnIoThreadDoesNotStopIt() throws Exception {
        try (IOThread io = new IOThread("io0").start();
             BlockBackend blk = openImage(io.context());
             Arena arena = Arena.ofShared()) {
            byte[] data = BlockImages.randomBytes(5, 3 * 4096);
            blk.write(0, BlockImages.buffer(arena, data, 0), 0);
            MemorySegment first = arena.allocate(4096, 4096);
            MemorySegment others = arena.allocate(3 * 4096, 4096);
            CompletableFuture<String> inBottomHalf = new CompletableFuture<>();
            CompletableFuture<String> inCallback = new CompletableFuture<>();
            io.context().scheduleOneShot("joins", () -> {
                try {
                    blk.readAsync(0, first).join(); // outside any coroutine: polls the loop
                    inBottomHalf.complete("done, in a coroutine: " + Coroutine.inCoroutine());
                } catch (RuntimeException e) {
                    inBottomHalf.complete(e.toString());
                }
                // Attached before the loop can complete the read: the callback runs in the read's coroutine.
                blk.readAsync(0, first).thenRun(() -> {
                    try {
                        blk.readAsync(4096, others.asSlice(4096, 4096)).join();
                        blk.readAsync(2 * 4096, others.asSlice(2 * 4096, 4096)).get();
                        blk.readAsync(0, others.asSlice(0, 4096)).get(30, TimeUnit.SECONDS);
                        inCallback.complete("done in " + Thread.currentThread().getName() + ", in a coroutine: "
                                + Coroutine.inCoroutine());
                    } catch (Exception e) {
                        inCallback.complete(e.toString());
                    }
                });
            });
            assertEquals("done, in a coroutine: false", inBottomHalf.get(30, TimeUnit.SECONDS));
            assertEquals("done in IO io0, in a coroutine: true", inCallback.get(30, TimeUnit.SECONDS));
            assertArrayEquals(data, BlockImages.bytes(others));
            assertArrayEquals(Arrays.copyOf(data, 4096), BlockImages.bytes(first));
        }
    }

    /** The same on the main loop, for a backend living in the main context: join polls the main loop. */
    @Test
    void waitingForARequestOfTheMainContextOnTheMainLoopPollsIt() throws Exception {
        try (BlockBackend blk = openImage(main);
             Arena arena = Arena.ofShared()) {
            byte[] data = BlockImages.randomBytes(6, 4096);
            blk.writeAsync(0, BlockImages.buffer(arena, data, 0), 0).join();
            MemorySegment back = arena.allocate(4096, 4096);
            blk.readAsync(0, back).get(30, TimeUnit.SECONDS);
            assertArrayEquals(data, BlockImages.bytes(back));
        }
    }

    /**
     * In a coroutine, get with a timeout yields and is woken by whichever comes first, the completion or a timer
     * of the coroutine's context. The backend lives in the main context, whose only thread runs the coroutine:
     * before, the wait blocked that thread, the request could not complete, and every such get timed out.
     */
    @Test
    void aTimedWaitForARequestInACoroutineYieldsUntilTheCompletionOrTheTimer() throws Exception {
        try (BlockBackend blk = openImage(main);
             Arena arena = Arena.ofShared()) {
            MemorySegment buf = arena.allocate(4096, 4096);
            AtomicReference<CompletableFuture<Void>> request = new AtomicReference<>();
            assertEquals("completed", timedWaitInCoroutine(blk, buf, request, TimeUnit.SECONDS.toMillis(30)));

            // In a drained section the request waits, so the timer comes first; the late completion wakes nobody.
            blk.root().drainedBegin();
            try {
                assertEquals("TimeoutException", timedWaitInCoroutine(blk, buf, request, 20));
                assertTrue(!request.get().isDone(), "the request waits for the drained section to end");
            } finally {
                blk.root().drainedEnd();
            }
            request.get().join(); // the main loop polls until it is done
        }
    }

    /** Reads in a coroutine of the main context with get(timeoutMs); returns "completed" or the exception's name. */
    private String timedWaitInCoroutine(BlockBackend blk, MemorySegment buf,
                                        AtomicReference<CompletableFuture<Void>> request, long timeoutMs)
            throws Exception {
        CompletableFuture<String> outcome = new CompletableFuture<>();
        Coroutine.create(() -> {
            request.set(blk.readAsync(0, buf));
            try {
                request.get().get(timeoutMs, TimeUnit.MILLISECONDS);
                outcome.complete("completed");
            } catch (Exception e) {
                outcome.complete(e.getClass().getSimpleName());
            }
        }).enterIn(main);
        assertTrue(AioWait.waitWhile(main, () -> !outcome.isDone(), TimeUnit.SECONDS.toNanos(60)));
        return outcome.get();
    }

    /**
     * Waiting on the loop of another IOThread, by the blocking API or by joining a request's future, is refused at
     * once: two IOThreads each waiting for the other's backend used to wait for each other forever. The backend
     * is drained meanwhile, so no request can be done by the time of the wait.
     */
    @Test
    void waitingOnAnotherContextsLoopIsRefused() throws Exception {
        Path a = BlockImages.image(dir, "a", 1 << 20);
        try (IOThread io0 = new IOThread("io0").start(); IOThread io1 = new IOThread("io1").start();
             BlockBackend blk = BlockBackend.open("t", new ImageSpec.Raw(FileOptions.of(a.toString())), io0.context());
             Arena arena = Arena.ofShared()) {
            MemorySegment buf = arena.allocate(4096, 4096);
            AtomicReference<CompletableFuture<Void>> request = new AtomicReference<>();
            blk.root().drainedBegin();
            try {
                Throwable blocking = thrownInLoop(io1, () -> blk.read(0, buf));
                assertTrue(blocking instanceof IllegalStateException
                        && blocking.getMessage().contains("from the loop thread of context 'io1'"),
                        String.valueOf(blocking));
                Throwable joining = thrownInLoop(io1, () -> {
                    request.set(blk.readAsync(0, buf));
                    request.get().join();
                });
                assertTrue(joining instanceof IllegalStateException
                        && joining.getMessage().contains("on the loop thread of context 'io1'"),
                        String.valueOf(joining));
            } finally {
                blk.root().drainedEnd();
            }
            request.get().get(30, TimeUnit.SECONDS); // the refused wait left the request going
            blk.read(0, buf); // and the backend
        }
    }

    /** Runs {@code work} in {@code io}'s loop; returns what it threw, or null. */
    private static Throwable thrownInLoop(IOThread io, Runnable work) throws Exception {
        CompletableFuture<Throwable> outcome = new CompletableFuture<>();
        io.context().scheduleOneShot("wait", () -> {
            try {
                work.run();
                outcome.complete(null);
            } catch (Throwable t) {
                outcome.complete(t);
            }
        });
        return outcome.get(30, TimeUnit.SECONDS);
    }

    /**
     * close() while plain threads keep submitting: it refuses their new requests with ENOMEDIUM, waits for those in
     * flight, and releases the image every time. Before, a request parked by close's drain resumed when the drain
     * ended and reached the node, which then refused to close ("closed with 1 requests in flight"); the backend
     * said closed anyway, and its fd and image lock stayed for the life of the process (1 close in 6 in the audit).
     */
    @Test
    void closeWhileOtherThreadsSubmitRefusesThemAndReleasesTheImage() throws Exception {
        Path file = BlockImages.image(dir, "img", 1 << 20);
        ImageSpec spec = new ImageSpec.Raw(FileOptions.of(file.toString()));
        try (IOThread io = new IOThread("io0").start(); Arena arena = Arena.ofShared()) {
            closeUnderLoad(spec, io, arena); // loads what the rounds need, so the fd count below is steady
            long fdsBefore = BlockImages.openFdCount();
            for (int round = 0; round < 20; round++) {
                closeUnderLoad(spec, io, arena);
            }
            assertEquals(fdsBefore, BlockImages.openFdCount(), "no fd left behind by the closes");
        }
    }

    /**
     * A backend whose IOThread stopped says so in its own terms, and once closed it says it is closed; before, both
     * failed with "cannot schedule Coroutine#N in context ...: it is closing", which named neither the backend nor
     * what to do.
     */
    @Test
    void aBackendWhoseIoThreadStoppedSaysSoAndOnceClosedThatItIsClosed() throws Exception {
        IOThread io = new IOThread("io0").start();
        BlockBackend blk = openImage(io.context());
        io.close();
        try (Arena arena = Arena.ofShared()) {
            MemorySegment buf = arena.allocate(4096, 4096);
            // Still open: the request cannot start, and the message says why in the backend's terms.
            IllegalStateException stopped = assertThrows(IllegalStateException.class, () -> blk.read(0, buf));
            assertEquals("a request on 't' cannot start: its context 'io0' is closing (its IOThread stopped); close"
                    + " the backend, or move it to a running context", stopped.getMessage());
            blk.close();
            BlockIoException blocking = assertThrows(BlockIoException.class, () -> blk.read(0, buf));
            assertEquals("read on 't': the backend is closed", blocking.getMessage());
            CompletionException async = assertThrows(CompletionException.class, () -> blk.writeAsync(0, buf, 0).join());
            assertEquals("write on 't': the backend is closed", async.getCause().getMessage());
        }
    }

    /** Opens a backend, lets 4 threads write until refused, closes it meanwhile, and opens the image again. */
    private static void closeUnderLoad(ImageSpec spec, IOThread io, Arena arena) throws Exception {
        BlockBackend blk = BlockBackend.open("t", spec, io.context());
        ConcurrentLinkedQueue<Throwable> unexpected = new ConcurrentLinkedQueue<>();
        CountDownLatch everyoneWrote = new CountDownLatch(4);
        List<Thread> writers = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
            MemorySegment buf = arena.allocate(4096, 4096);
            writers.add(Thread.ofPlatform().start(() -> {
                for (;;) {
                    try {
                        blk.writeAsync(0, buf, 0).join();
                        everyoneWrote.countDown();
                    } catch (CompletionException e) {
                        if (!(e.getCause() instanceof BlockIoException b && b.errno() == Errno.ENOMEDIUM)) {
                            unexpected.add(e);
                        }
                        return;
                    } catch (RuntimeException e) {
                        unexpected.add(e);
                        return;
                    }
                }
            }));
        }
        assertTrue(everyoneWrote.await(30, TimeUnit.SECONDS));
        blk.close();
        for (Thread writer : writers) {
            writer.join(TimeUnit.SECONDS.toMillis(30));
            assertFalse(writer.isAlive(), "a writer was neither served nor refused");
        }
        assertTrue(unexpected.isEmpty(), unexpected.toString());
        BlockBackend.open("again", spec, io.context()).close(); // the image lock was released
    }

    /**
     * The main loop refuses to close while a backend is open: a backend closes by draining in the main loop, so
     * closing the main loop first stranded it, open and locked, and dropped the requests queued in the main
     * context (a plain thread's blocking read of a main-context backend waited forever).
     */
    @Test
    void theMainLoopOutlivesItsBackends() throws Exception {
        Path file = BlockImages.image(dir, "img", 1 << 20);
        byte[] data = BlockImages.randomBytes(9, 4096);
        BlockImages.writeDirect(file, 0, data);
        BlockBackend blk = BlockBackend.open("t", new ImageSpec.Raw(FileOptions.of(file.toString())), main);
        try (Arena arena = Arena.ofShared()) {
            MemorySegment buf = arena.allocate(4096, 4096);
            AtomicReference<Throwable> readFailure = new AtomicReference<>();
            AtomicBoolean readReturned = new AtomicBoolean();
            Thread reader = Thread.ofPlatform().start(() -> {
                try {
                    blk.read(0, buf); // queued in the main context, which this thread does not poll
                } catch (Throwable t) {
                    readFailure.set(t);
                }
                main.scheduleOneShot("read returned", () -> readReturned.set(true)); // wakes the poll below
            });
            IllegalStateException refused = assertThrows(IllegalStateException.class, main::close);
            assertEquals("AioContext 'main' is the main loop and cannot close while block backends are open ('t');"
                    + " close them first", refused.getMessage());
            assertTrue(AioWait.waitWhile(main, () -> !readReturned.get(), TimeUnit.SECONDS.toNanos(30)),
                    "the queued read runs once the main loop polls");
            reader.join();
            assertEquals(null, readFailure.get());
            assertArrayEquals(data, BlockImages.bytes(buf));
        } finally {
            blk.close();
        }
        main.close(); // now it may
        main = BlockImages.mainLoop();
    }

    /**
     * Request flags a request does not take are refused: the throwing API names the bits, the errno-returning one
     * answers EINVAL. Before, a write with any bits set succeeded as if they were not there.
     */
    @Test
    void unknownRequestFlagsAreRefused() throws Exception {
        try (BlockBackend blk = openImage(main);
             Arena arena = Arena.ofShared()) {
            MemorySegment buf = arena.allocate(4096, 4096);
            IllegalArgumentException write = assertThrows(IllegalArgumentException.class,
                    () -> blk.write(0, buf, 0xffff));
            assertEquals("write flags 0xffff: unknown bits 0xffef (see RequestFlags for what write takes)",
                    write.getMessage());
            assertThrows(IllegalArgumentException.class, () -> blk.writeZeroes(0, 4096, 0x1000));
            CompletionException async = assertThrows(CompletionException.class,
                    () -> blk.writevAsync(0, IoVector.of(buf), RequestFlags.MAY_UNMAP).join());
            assertTrue(async.getCause() instanceof IllegalArgumentException, String.valueOf(async.getCause()));
            int[] errno = new int[1];
            Coroutine.create(() -> errno[0] = blk.coPwritev(0, IoVector.of(buf), RequestFlags.NO_FALLBACK))
                    .enterIn(main);
            assertTrue(AioWait.waitWhile(main, () -> errno[0] == 0, TimeUnit.SECONDS.toNanos(30)));
            assertEquals(-Errno.EINVAL, errno[0]);
            blk.write(0, buf, RequestFlags.FUA); // the flags each takes still work
            blk.writeZeroes(0, 4096, RequestFlags.MAY_UNMAP | RequestFlags.NO_FALLBACK | RequestFlags.FUA);
        }
    }

    /**
     * The asynchronous API refuses, at the call, a buffer confined to a thread other than the backend's: the
     * request runs there while the caller goes on. Before, an aligned one worked by accident and a misaligned one
     * threw WrongThreadException in the IOThread after its I/O. On the backend's own thread such a buffer is fine.
     */
    @Test
    void theAsynchronousApiRefusesBuffersConfinedToAnotherThread() throws Exception {
        try (IOThread io = new IOThread("io0").start();
             BlockBackend inIo = openImage(io.context());
             Arena confined = Arena.ofConfined(); Arena shared = Arena.ofShared()) {
            MemorySegment aligned = confined.allocate(4096, 4096);
            MemorySegment misaligned = confined.allocate(4097, 4096).asSlice(1);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> inIo.readAsync(0, aligned));
            assertTrue(e.getMessage().startsWith("I/O buffer 0 of 1 is confined to another thread than 'IO io0'"),
                    e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> inIo.writeAsync(0, misaligned, 0));
            IoVector mixed = IoVector.of(shared.allocate(512, 512), aligned);
            assertTrue(assertThrows(IllegalArgumentException.class, () -> inIo.readvAsync(0, mixed)).getMessage()
                    .startsWith("I/O buffer 1 of 2 is confined"));
            inIo.read(0, misaligned); // the blocking API lends it for the call
        }
        Path other = BlockImages.image(dir, "other", 1 << 20);
        try (BlockBackend inMain = BlockBackend.open("m", new ImageSpec.Raw(FileOptions.of(other.toString())), main);
             Arena confined = Arena.ofConfined()) {
            inMain.readAsync(0, confined.allocate(4096, 4096)).join(); // confined to the backend's own thread
        }
    }

    /**
     * Opening, attaching and closing a backend are the main loop's: close drains, which only the main loop may do.
     * Before, a backend opened on another thread, or with no main loop at all, opened and worked, and then its
     * close failed, leaving the image open and locked.
     */
    @Test
    void backendsAreOpenedAndClosedOnlyInTheMainLoop() throws Exception {
        Path file = BlockImages.image(dir, "img", 1 << 20);
        ImageSpec spec = new ImageSpec.Raw(FileOptions.of(file.toString()));
        try (IOThread io = new IOThread("io0").start()) {
            AtomicReference<Throwable> offMain = new AtomicReference<>();
            Thread other = Thread.ofPlatform().name("not-main").start(() -> offMain.set(assertThrows(
                    IllegalStateException.class, () -> BlockBackend.open("t", spec, io.context()))));
            other.join();
            assertEquals("BlockBackend.open runs in the main loop, on thread '" + Thread.currentThread().getName()
                    + "', not on 'not-main'", offMain.get().getMessage());

            BlockBackend blk = BlockBackend.open("t", spec, io.context());
            Thread closer = Thread.ofPlatform().name("not-main").start(() -> offMain.set(assertThrows(
                    IllegalStateException.class, blk::close)));
            closer.join();
            assertTrue(offMain.get().getMessage().startsWith("BlockBackend.close runs in the main loop"),
                    offMain.get().getMessage());
            try (Arena arena = Arena.ofShared()) {
                blk.read(0, arena.allocate(4096, 4096)); // still open and working
            }
            Thread attacher = Thread.ofPlatform().name("not-main").start(() -> offMain.set(assertThrows(
                    IllegalStateException.class, () -> BlockBackend.attach("second", blk.root()))));
            attacher.join();
            assertTrue(offMain.get().getMessage().startsWith("BlockBackend.attach runs in the main loop"),
                    offMain.get().getMessage());
            blk.close();

            main.close();
            IllegalStateException none = assertThrows(IllegalStateException.class,
                    () -> BlockBackend.open("t", spec, io.context()));
            assertEquals("BlockBackend.open runs in the main loop, and no main loop runs: call MainLoop.init() first,"
                    + " on the thread that opens and closes backends", none.getMessage());
            main = BlockImages.mainLoop();
            BlockBackend.open("t", spec, io.context()).close(); // nothing of the refused opens holds the image
        }
    }
}
