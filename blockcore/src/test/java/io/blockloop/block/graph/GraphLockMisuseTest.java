package io.blockloop.block.graph;

import io.blockloop.aio.AioContext;
import io.blockloop.aio.MainLoop;
import io.blockloop.aio.testing.IoThreads;
import io.blockloop.coroutine.Coroutine;
import io.blockloop.fdmon.FdMonitorKind;
import io.blockloop.ffm.libc.Membarrier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.function.Executable;

import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The graph lock refuses to be used from the wrong place, with a message that says where it was called from:
 * the writer outside the main loop's thread or inside a coroutine (always checked), readers outside coroutines,
 * and the {@code -ea} assertions ({@code assertReadable}, {@code assertWritable}, the main-loop reader variants).
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class GraphLockMisuseTest {
    private AioContext main;

    @BeforeEach
    void startMainLoop() {
        main = MainLoop.init(FdMonitorKind.AUTO);
    }

    @AfterEach
    void endMainLoop() {
        main.close();
    }

    @Test
    void theseTestsRunWithAssertionsOn() {
        boolean enabled = false;
        assert enabled = true;
        assertTrue(enabled, "run the tests with -ea: the graph lock's assertions are checked only then");
    }

    @Test
    void readersFenceOnlyWhenAskedToOrWithoutMembarrier() {
        boolean fencesAsked = Boolean.getBoolean(GraphLock.FENCES_PROPERTY);
        assertEquals(!fencesAsked && Membarrier.availability().available(),
                GraphLock.asymmetric(), "reader fences asked: " + fencesAsked);
    }

    @Test
    void theWriterIsRefusedInsideACoroutine() {
        GraphLock lock = new GraphLock("writer-in-coroutine");
        AtomicReference<Throwable> onWriteLock = new AtomicReference<>();
        AtomicReference<Throwable> onTryWriteLock = new AtomicReference<>();
        AtomicReference<Throwable> onWriteUnlock = new AtomicReference<>();
        Coroutine.create(() -> {
            onWriteLock.set(thrownBy(lock::writeLock));
            onTryWriteLock.set(thrownBy(() -> lock.tryWriteLock(0)));
            onWriteUnlock.set(thrownBy(lock::writeUnlock));
        }).enter(); // a coroutine of the main context, on the main thread
        for (Throwable t : new Throwable[]{onWriteLock.get(), onTryWriteLock.get(), onWriteUnlock.get()}) {
            assertInstanceOf(IllegalStateException.class, t);
            assertTrue(t.getMessage().contains("inside Coroutine#"), t.getMessage());
        }
        assertFalse(lock.hasWriter());
    }

    @Test
    void theWriterIsRefusedOutsideTheMainLoopThread() throws Exception {
        GraphLock lock = new GraphLock("writer-elsewhere");
        try (IoThreads io = new IoThreads("not-main", 1)) {
            Throwable inIoThread = io.callIn(0, () -> thrownBy(lock::writeLock));
            assertInstanceOf(IllegalStateException.class, inIoThread);
            assertTrue(inIoThread.getMessage().contains("home of context 'not-main-0'"), inIoThread.getMessage());
            assertTrue(inIoThread.getMessage().contains("only the main loop's thread writes"), inIoThread.getMessage());
        }
        AtomicReference<Throwable> onPlainThread = new AtomicReference<>();
        Thread plain = Thread.ofPlatform().name("plain").start(() -> onPlainThread.set(thrownBy(lock::writeLock)));
        plain.join(IoThreads.BOUND.toMillis());
        assertInstanceOf(IllegalStateException.class, onPlainThread.get());
        assertTrue(onPlainThread.get().getMessage().contains("thread 'plain' (no AioContext)"),
                onPlainThread.get().getMessage());
        assertFalse(lock.hasWriter());
    }

    @Test
    void theWriteLockIsNotReentrantAndAnUnlockNeedsALock() {
        GraphLock lock = new GraphLock("reentrant-writer");
        IllegalStateException unlocked = assertThrows(IllegalStateException.class, lock::writeUnlock);
        assertTrue(unlocked.getMessage().contains("not write-locked"), unlocked.getMessage());
        lock.writeLock();
        IllegalStateException twice = assertThrows(IllegalStateException.class, lock::writeLock);
        assertTrue(twice.getMessage().contains("not reentrant"), twice.getMessage());
        assertTrue(lock.hasWriter(), "the failed second lock left the first one alone");
        lock.writeUnlock();
        assertFalse(lock.hasWriter());
    }

    @Test
    void readersMustBeCoroutinesRunningInAContext() throws Exception {
        GraphLock lock = new GraphLock("reader-misuse");
        IllegalStateException onMain = assertThrows(IllegalStateException.class, lock::readLock);
        assertTrue(onMain.getMessage().contains("outside a coroutine"), onMain.getMessage());
        assertThrows(IllegalStateException.class, lock::readUnlock);
        try (IoThreads io = new IoThreads("plain-code", 1)) {
            assertInstanceOf(IllegalStateException.class, io.callIn(0, () -> thrownBy(lock::readLock)));
        }
        // A coroutine entered on a thread that runs no context has no reader count.
        AtomicReference<Throwable> noContext = new AtomicReference<>();
        Thread plain = Thread.ofPlatform().name("no-context").start(
                () -> Coroutine.create(() -> noContext.set(thrownBy(lock::readLock))).enter());
        plain.join(IoThreads.BOUND.toMillis());
        assertInstanceOf(IllegalStateException.class, noContext.get());
        assertTrue(noContext.get().getMessage().contains("runs in no AioContext"), noContext.get().getMessage());
        assertEquals(0, lock.readerCount());
    }

    @Test
    void anUnlockWithoutALockIsRefusedAndChangesNothing() {
        GraphLock lock = new GraphLock("unmatched-unlock");
        AtomicReference<Throwable> unlockedFirst = new AtomicReference<>();
        AtomicReference<Throwable> unlockedThrice = new AtomicReference<>();
        AtomicReference<Long> readersWhileHeldTwice = new AtomicReference<>();
        AtomicReference<Integer> heldAtEnd = new AtomicReference<>();
        Coroutine.create(() -> {
            unlockedFirst.set(thrownBy(lock::readUnlock));
            lock.readLock();
            lock.readLock();
            readersWhileHeldTwice.set(lock.readerCount());
            lock.readUnlock();
            lock.readUnlock();
            unlockedThrice.set(thrownBy(lock::readUnlock));
            heldAtEnd.set(Coroutine.self().graphReadLocks());
        }).enter();
        assertInstanceOf(IllegalStateException.class, unlockedFirst.get());
        assertTrue(unlockedFirst.get().getMessage().contains("holds no read lock"), unlockedFirst.get().getMessage());
        assertEquals(2L, readersWhileHeldTwice.get());
        assertInstanceOf(IllegalStateException.class, unlockedThrice.get());
        assertEquals(0, heldAtEnd.get());
        // The refused unlocks left the count alone: a writer gets in at once.
        assertEquals(0, lock.readerCount());
        assertTrue(lock.tryWriteLock(0));
        lock.writeUnlock();
    }

    @Test
    void theMainLoopReaderVariantsAssertTheMainThreadOutsideCoroutines() {
        GraphLock lock = new GraphLock("main-loop-variants");
        try (IoThreads io = new IoThreads("variants", 1)) {
            Throwable inIoThread = io.callIn(0, () -> thrownBy(lock::readLockMainLoop));
            assertInstanceOf(AssertionError.class, inIoThread);
            assertTrue(inIoThread.getMessage().contains("only the main loop's thread"), inIoThread.getMessage());
            assertInstanceOf(AssertionError.class, io.callIn(0, () -> thrownBy(lock::readUnlockMainLoop)));
        }
        AtomicReference<Throwable> inCoroutine = new AtomicReference<>();
        Coroutine.create(() -> inCoroutine.set(thrownBy(lock::readLockMainLoop))).enter();
        assertInstanceOf(AssertionError.class, inCoroutine.get());
        assertTrue(inCoroutine.get().getMessage().contains("coroutines take the read lock"), inCoroutine.get().getMessage());
    }

    @Test
    void assertWritableNeedsTheMainThreadAndTheWriteLock() {
        GraphLock lock = new GraphLock("writable");
        AssertionError unlocked = assertThrows(AssertionError.class, lock::assertWritable);
        assertTrue(unlocked.getMessage().contains("without its write lock"), unlocked.getMessage());
        lock.writeLock();
        try {
            assertTrue(lock.assertWritable());
            try (IoThreads io = new IoThreads("writable", 1)) {
                Throwable inIoThread = io.callIn(0, () -> thrownBy(lock::assertWritable));
                assertInstanceOf(AssertionError.class, inIoThread, "held by the main loop, not by the IOThread");
            }
        } finally {
            lock.writeUnlock();
        }
    }

    @Test
    void assertReadableNeedsTheMainThreadOrAReader() {
        GraphLock lock = new GraphLock("readable");
        assertTrue(lock.assertReadable(), "the main loop may always read");
        try (IoThreads io = new IoThreads("readable", 2)) {
            Throwable noReader = io.callIn(0, () -> thrownBy(lock::assertReadable));
            assertInstanceOf(AssertionError.class, noReader);
            assertTrue(noReader.getMessage().contains("without its read lock"), noReader.getMessage());

            ParkingSpot spot = new ParkingSpot("reader");
            CountDownLatch in = new CountDownLatch(1);
            CountDownLatch out = new CountDownLatch(1);
            io.startCoroutine(1, () -> {
                lock.readLock();
                in.countDown();
                spot.park();
                lock.readUnlock();
                out.countDown();
            });
            IoThreads.await(in, "the reader inside");
            // QEMU's check: some reader holds the lock (the total), not necessarily the caller.
            assertTrue(io.callIn(0, lock::assertReadable));
            spot.release();
            IoThreads.await(out, "the reader gone");
        }
    }

    @Test
    void theStaticChecksUseTheGlobalLock() {
        GraphLock global = GraphLock.global();
        assertTrue(GraphLock.checkReadable());
        assertThrows(AssertionError.class, GraphLock::checkWritable);
        global.writeLock();
        try {
            assertTrue(GraphLock.checkWritable());
        } finally {
            global.writeUnlock();
        }
        assertFalse(global.hasWriter());
    }

    @Test
    void theGraphAnnotationsAreVisibleAtRunTime() throws Exception {
        for (Class<?> annotation : new Class<?>[]{GraphReadLocked.class, GraphWriteLocked.class}) {
            Retention retention = annotation.getAnnotation(Retention.class);
            assertNotNull(retention, annotation + " has a retention");
            assertEquals(RetentionPolicy.RUNTIME, retention.value(), annotation.getName());
        }
        assertNotNull(Annotated.class.getDeclaredMethod("read").getAnnotation(GraphReadLocked.class));
        assertNotNull(Annotated.class.getDeclaredMethod("write").getAnnotation(GraphWriteLocked.class));
        Annotated.read(); // the main loop may read
        AssertionError write = assertThrows(AssertionError.class, Annotated::write);
        assertTrue(write.getMessage().contains("without its write lock"), write.getMessage());
    }

    /** How the block layer marks and checks its methods. */
    private static final class Annotated {
        @GraphReadLocked
        static void read() {
            assert GraphLock.checkReadable();
        }

        @GraphWriteLocked
        static void write() {
            assert GraphLock.checkWritable();
        }
    }

    private static Throwable thrownBy(Executable action) {
        try {
            action.execute();
            return null;
        } catch (Throwable t) {
            return t;
        }
    }
}
