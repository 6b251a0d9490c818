package io.blockloop.engine;

import io.blockloop.ffm.errno.Errno;
import io.blockloop.ffm.libc.EventFd;
import io.blockloop.ffm.libc.FileIo;
import io.blockloop.ffm.libc.OpenFlags;
import io.blockloop.ffm.memory.AlignedBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * What only the io_uring engine on a deferred ring does ({@link IoUringEngine#openDeferred}): the opening thread
 * owns it, its completion fd is refused, {@code poll()} enters the ring when completions wait for the owner, and a
 * close with requests in flight belongs to the owner. (Reads, writes, errors and the rest run for it in the
 * parameterized engine tests, {@link EngineUnderTest#IO_URING_DEFERRED}; its owner's spin in
 * {@link CompletionSpinTest}.) Requests that stay in flight are reads of a blocking eventfd, which complete when
 * the test writes to it.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class DeferredRingTest {
    private static final int DIRECT = OpenFlags.O_RDWR | OpenFlags.O_DIRECT;

    @TempDir
    Path dir;

    @Test
    void theRingIsSetUpDeferredAndTheOpeningThreadOwnsIt() throws Exception {
        try (IoUringEngine engine = IoUringEngine.openDeferred()) {
            assertTrue(engine.deferred());
            CompletableFuture<Throwable> other = CompletableFuture.supplyAsync(() -> {
                try {
                    engine.awaitCompletions(0);
                    return null;
                } catch (Throwable t) {
                    return t;
                }
            });
            Throwable refused = other.get(60, TimeUnit.SECONDS);
            assertTrue(refused instanceof IllegalStateException, String.valueOf(refused));
        }
    }

    @Test
    void itsCompletionFdIsRefusedWithTheReason() {
        try (IoUringEngine engine = IoUringEngine.openDeferred()) {
            UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class,
                    engine::completionFd);
            assertTrue(e.getMessage().contains("openDeferred") && e.getMessage().contains("awaitCompletions"),
                    e.getMessage());
        }
    }

    /** {@code poll()} alone, never waiting in the kernel, still sees completions: it enters when they wait. */
    @Test
    void pollAloneCollectsTheCompletions() {
        int fd = TestFiles.createWithPattern(dir.resolve("p.img"), 1 << 20, DIRECT);
        try (IoUringEngine engine = IoUringEngine.openDeferred();
             AlignedBuffer buf = AlignedBuffer.allocate(16 * 4096, 4096)) {
            Recorder rec = new Recorder(16);
            engine.plug();
            for (int i = 0; i < 16; i++) {
                engine.read(fd, buf.segment().asSlice(i * 4096L, 4096), i * 8192L, rec, i);
            }
            engine.unplug();
            long deadline = System.nanoTime() + 60_000_000_000L;
            while (rec.completed < 16) {
                if (System.nanoTime() > deadline) {
                    fail("poll() collected " + rec.completed + " of 16 completions in 60 s");
                }
                engine.poll();
                Thread.onSpinWait();
            }
            for (int i = 0; i < 16; i++) {
                assertEquals(4096, rec.results[i]);
                assertNull(TestFiles.checkPatternThenZeros(buf.segment().asSlice(i * 4096L, 4096), i * 8192L,
                        1 << 20));
            }
        } finally {
            FileIo.close(fd);
        }
    }

    /**
     * Another thread closing while the owner lives and a request is in flight is refused, and loses nothing: the
     * engine stays open, and the owner collects the completion and closes it.
     */
    @Test
    void anotherThreadsCloseIsRefusedWhileTheOwnerLives() throws Exception {
        try (EventFd slow = EventFd.create(0, EventFd.EFD_CLOEXEC);
             AlignedBuffer counter = AlignedBuffer.allocate(8, 8)) {
            IoUringEngine engine = IoUringEngine.openDeferred();
            Recorder rec = new Recorder(1);
            engine.read(slow.fd(), counter.segment(), 0, rec, 0);
            Throwable refused = CompletableFuture.supplyAsync(() -> {
                try {
                    engine.close();
                    return null;
                } catch (Throwable t) {
                    return t;
                }
            }).get(60, TimeUnit.SECONDS);
            assertTrue(refused instanceof IllegalStateException, String.valueOf(refused));
            assertTrue(refused.getMessage().contains("deferred ring"), refused.getMessage());
            assertEquals(1, engine.outstanding(), "the refused close touched the request");
            slow.signal();
            rec.awaitCompleted(engine, 1);
            assertEquals(8, rec.results[0]);
            engine.close();
        }
    }

    /**
     * After the owner ended, another thread closes the engine: the kernel completed the owner's requests when it
     * exited, and the close delivers them.
     */
    @Test
    void anotherThreadClosesItAfterTheOwnerEnded() throws Exception {
        try (EventFd never = EventFd.create(0, EventFd.EFD_CLOEXEC);
             AlignedBuffer counter = AlignedBuffer.allocate(8, 8)) {
            AtomicReference<IoUringEngine> opened = new AtomicReference<>();
            Recorder rec = new Recorder(1);
            Thread owner = Thread.ofPlatform().start(() -> {
                IoUringEngine engine = IoUringEngine.openDeferred();
                engine.read(never.fd(), counter.segment(), 0, rec, 0);
                engine.awaitCompletions(0); // submitted; it stays in flight
                opened.set(engine);
            });
            owner.join();
            IoUringEngine engine = opened.get();
            assertEquals(1, engine.outstanding());
            engine.close();
            assertEquals(1, rec.completed);
            assertEquals(-Errno.ECANCELED, rec.results[0], "the kernel cancels an exiting owner's read");
        }
    }
}
