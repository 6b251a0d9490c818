package io.blockloop.engine;

import io.blockloop.fdmon.IoUringFdMonitor;
import io.blockloop.ffm.libc.FileIo;
import io.blockloop.ffm.libc.OpenFlags;
import io.blockloop.ffm.memory.AlignedBuffer;
import io.blockloop.ffm.testing.OpenFds;
import io.blockloop.ffm.testing.Posix;
import jnr.constants.platform.Errno;
import jnr.constants.platform.Fcntl;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

/**
 * 1 000 open / register a buffer / one I/O / close cycles per engine leave the process exactly as it was: same open fds (counted in
 * {@code /proc/self/fd}; the closed completion fds checked with JNR-POSIX's {@code fcntl}), same engine native
 * memory, same kernel AIO contexts and io_uring mappings, no worker thread left.
 *
 * <p>The cycles run on {@value #THREADS} threads at once, each the owner of its own engines: {@code io_destroy}
 * waits for an RCU grace period (tens of milliseconds here), so 1 000 sequential linux-aio cycles alone would
 * take over half a minute.
 *
 * <p>An engine on the loop's ring ({@link EngineUnderTest#IO_URING_SHARED}) borrows its thread's event-loop monitor,
 * which is the loop's and outlives the engines: those monitors are opened before the first count and closed after
 * the last, and instead of a closed completion fd (the monitor's ring fd stays open) the test checks that each
 * loan has ended. An engine its owner sleeps in ({@link EngineUnderTest#LINUX_AIO_UNSIGNALLED}) closes with its watch
 * armed, a kernel request outside its pool.
 */
class EngineLeakTest {
    private static final int CYCLES = 1000;
    private static final int THREADS = 5;

    @TempDir
    Path dir;

    @ParameterizedTest
    @EnumSource(value = EngineUnderTest.class,
            names = {"LINUX_AIO", "LINUX_AIO_UNSIGNALLED", "IO_URING", "IO_URING_DEFERRED", "IO_URING_SHARED",
                "THREADS"})
    void openCloseCyclesLeakNothing(EngineUnderTest e) throws Exception {
        boolean shared = e == EngineUnderTest.IO_URING_SHARED;
        int fd = TestFiles.createWithPattern(dir.resolve("leak.img"), 64 * 1024,
                OpenFlags.O_RDWR | OpenFlags.O_DIRECT);
        IoUringFdMonitor[] monitors = new IoUringFdMonitor[THREADS];
        Thread[] threads = new Thread[THREADS];
        try (AlignedBuffer buf = AlignedBuffer.allocate(4096, 4096)) {
            cycle(e, fd, buf); // warm up class loading, thread-locals, etc. (and this thread's loop monitor)
            if (shared) {
                for (int t = 0; t < THREADS; t++) {
                    monitors[t] = IoUringFdMonitor.open(); // the cycling threads' loops, before the counts
                }
            }
            int fds = OpenFds.count();
            long bytes = EngineMemory.liveBytes();
            long aioMappings = mappings("[aio]");
            long uringMappings = mappings("io_uring");
            long workers = poolThreads();
            int[] lastCompletionFds = new int[THREADS];
            Throwable[] failures = new Throwable[THREADS];
            for (int t = 0; t < THREADS; t++) {
                int index = t;
                threads[t] = Thread.ofPlatform().name("leak-cycles-" + t).start(() -> {
                    if (monitors[index] != null) {
                        EngineUnderTest.adoptLoopMonitor(monitors[index]);
                    }
                    try (AlignedBuffer own = AlignedBuffer.allocate(4096, 4096)) {
                        for (int i = 0; i < CYCLES / THREADS; i++) {
                            lastCompletionFds[index] = cycle(e, fd, own);
                        }
                    } catch (Throwable x) {
                        failures[index] = x;
                    }
                });
            }
            for (Thread t : threads) {
                t.join(120_000);
                assertFalse(t.isAlive(), t.getName() + " still cycling after 120 s");
            }
            for (Throwable f : failures) {
                if (f != null) {
                    throw new AssertionError("a cycling thread failed", f);
                }
            }
            assertEquals(fds, OpenFds.count(), "open fds after " + CYCLES + " cycles");
            assertEquals(bytes, EngineMemory.liveBytes(), "engine native memory after " + CYCLES + " cycles");
            assertEquals(aioMappings, mappings("[aio]"), "aio ring mappings");
            assertEquals(uringMappings, mappings("io_uring"), "io_uring mappings");
            assertEquals(workers, poolThreads(), "pool worker threads");
            if (shared) {
                // The completion fd is the monitor's ring fd, which stays open: the engines gave the ring back.
                for (IoUringFdMonitor monitor : monitors) {
                    assertFalse(monitor.isShared(), monitor + " is still lent after its engines closed");
                }
                return;
            }
            // Independent check through JNR-POSIX: the last completion fds are closed.
            for (int completionFd : lastCompletionFds) {
                int r = Posix.get().fcntl(completionFd, Fcntl.F_GETFD);
                assertEquals(-1, r, "fd " + completionFd + " still open");
                assertEquals(Errno.EBADF.intValue(), Posix.get().errno());
            }
        } finally {
            for (int t = 0; t < THREADS; t++) {
                if (monitors[t] != null && (threads[t] == null || !threads[t].isAlive())) {
                    monitors[t].close(); // its home thread has exited (joined above)
                }
            }
            FileIo.close(fd);
        }
    }

    private static int cycle(EngineUnderTest e, int fd, AlignedBuffer buf) {
        IoEngine engine = e.open();
        // A deferred ring has no completion fd; its ring fd is what must be closed afterwards.
        int completionFd = engine instanceof IoUringEngine u && u.deferred() ? u.ringFd() : engine.completionFd();
        try {
            // io_uring reads through a registered buffer; on the loop's ring a table left by the previous cycle's
            // engine would make this registration fail (EBUSY).
            boolean registered = engine.registerBuffer(buf.segment());
            assertEquals(engine instanceof IoUringEngine, registered, "buffer registration");
            if (engine instanceof LinuxAioEngine aio && !aio.signalsKernelCompletions()) {
                assertEquals(0, aio.awaitCompletionsOrReadable(completionFd, 1_000L)); // arms the watch, left armed
            }
            Recorder rec = new Recorder(1);
            engine.read(fd, buf.segment(), 0, rec, 0);
            rec.awaitCompleted(engine, 1);
            assertEquals(4096, rec.results[0]);
        } finally {
            engine.close();
        }
        return completionFd;
    }

    private static long mappings(String name) throws IOException {
        try (var lines = Files.lines(Path.of("/proc/self/maps"))) {
            return lines.filter(l -> l.contains(name)).count();
        }
    }

    private static long poolThreads() {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().startsWith("blockloop-pool-")).count();
    }
}
