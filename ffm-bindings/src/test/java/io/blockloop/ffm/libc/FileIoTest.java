package io.blockloop.ffm.libc;

import io.blockloop.ffm.errno.Errno;
import io.blockloop.ffm.errno.NativeCallException;
import io.blockloop.ffm.memory.AlignedBuffer;
import io.blockloop.ffm.testing.Posix;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class FileIoTest {
    /**
     * A length or count beyond the segment handed with it is refused before the system call: the kernel would
     * write past the segment (read into 16 bytes with a length of 4096 crashed the JVM; so did epoll_wait told of
     * 300 events for one).
     */
    @Test
    void lengthsAndCountsBeyondTheirSegmentAreRefused() throws Exception {
        try (Arena arena = Arena.ofConfined(); Pipe pipe = Pipe.create(OpenFlags.O_NONBLOCK)) {
            MemorySegment small = arena.allocate(16);
            for (org.junit.jupiter.api.function.Executable call : List.<org.junit.jupiter.api.function.Executable>of(
                    () -> FileIo.readOrErrno(pipe.readFd(), small, 4096),
                    () -> FileIo.writeOrErrno(pipe.writeFd(), small, 17),
                    () -> FileIo.readOrErrno(pipe.readFd(), small, -1),
                    () -> FileIo.preadOrErrno(pipe.readFd(), small, 32, 0),
                    () -> FileIo.pwriteOrErrno(pipe.writeFd(), small, 32, 0),
                    () -> FileIo.preadvOrErrno(pipe.readFd(), small, 2, 0, 0),
                    () -> Poll.ppollOrErrno(arena.allocate(Poll.POLLFD_SIZE), 64, 0),
                    () -> Poll.poll(arena.allocate(Poll.POLLFD_SIZE), 2, 0),
                    () -> Epoll.waitOrErrno(-1, arena.allocate(Epoll.EVENT_SIZE), 300, 0))) {
                org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, call);
            }
            assertEquals(16, FileIo.writeOrErrno(pipe.writeFd(), small, 16)); // within bounds: works
        }
    }

    /**
     * A read-only segment ({@code asReadOnly()}) handed to a call the kernel writes into is refused: the JDK passed it
     * to the downcall like any other and the kernel wrote into it. Writes from a read-only segment still work.
     */
    @Test
    void readOnlySegmentsAreRefusedWhereTheKernelWrites() throws Exception {
        Path file = Files.write(dir.resolve("ro"), new byte[]{1, 2, 3, 4, 5, 6, 7, 8});
        int fd = FileIo.open(file.toString(), OpenFlags.O_RDWR | OpenFlags.O_CLOEXEC, 0);
        try (Arena arena = Arena.ofConfined(); Pipe pipe = Pipe.create(OpenFlags.O_NONBLOCK)) {
            MemorySegment readOnly = arena.allocate(8).asReadOnly();
            MemorySegment pollfds = arena.allocate(Poll.POLLFD_SIZE);
            Poll.set(pollfds, 0, pipe.readFd(), (short) 1);
            for (org.junit.jupiter.api.function.Executable call : List.<org.junit.jupiter.api.function.Executable>of(
                    () -> FileIo.pread(fd, readOnly, 0),
                    () -> FileIo.preadOrErrno(fd, readOnly, 8, 0),
                    () -> FileIo.readOrErrno(fd, readOnly, 8),
                    () -> Poll.poll(pollfds.asReadOnly(), 1, 0),
                    () -> Poll.ppollOrErrno(pollfds.asReadOnly(), 1, 0),
                    () -> Epoll.waitOrErrno(-1, arena.allocate(Epoll.EVENT_SIZE).asReadOnly(), 1, 0),
                    () -> Epoll.pwait2OrErrno(-1, arena.allocate(Epoll.EVENT_SIZE).asReadOnly(), 1, 0))) {
                IllegalArgumentException x = assertThrows(IllegalArgumentException.class, call);
                assertTrue(x.getMessage().contains("read-only"), x.getMessage());
            }
            assertEquals(0, readOnly.get(ValueLayout.JAVA_BYTE, 0), "the kernel wrote nothing into it");
            assertEquals(8, FileIo.pwriteOrErrno(fd, readOnly, 8, 0), "the kernel only reads a write's buffer");
            assertEquals(8, FileIo.writeOrErrno(pipe.writeFd(), readOnly, 8));
        } finally {
            FileIo.close(fd);
        }
    }

    /**
     * The raw-address forms check nothing about the memory, but a negative length is refused: as a size_t it let
     * the kernel read or write up to 2 GiB from the address.
     */
    @Test
    void rawAddressFormsRefuseANegativeLength() throws Exception {
        try (Arena arena = Arena.ofConfined(); Pipe pipe = Pipe.create(OpenFlags.O_NONBLOCK)) {
            long address = arena.allocate(16).address();
            assertEquals(4, FileIo.writeOrErrno(pipe.writeFd(), address, 4));
            for (org.junit.jupiter.api.function.Executable call : List.<org.junit.jupiter.api.function.Executable>of(
                    () -> FileIo.pread(pipe.readFd(), address, -1, 0),
                    () -> FileIo.preadOrErrno(pipe.readFd(), address, -1, 0),
                    () -> FileIo.pwrite(pipe.writeFd(), address, Long.MIN_VALUE, 0),
                    () -> FileIo.pwriteOrErrno(pipe.writeFd(), address, -16, 0),
                    () -> FileIo.readOrErrno(pipe.readFd(), address, -1),
                    () -> FileIo.writeOrErrno(pipe.writeFd(), address, -1))) {
                IllegalArgumentException x = assertThrows(IllegalArgumentException.class, call);
                assertTrue(x.getMessage().contains("negative length"), x.getMessage());
            }
            assertEquals(4, FileIo.readOrErrno(pipe.readFd(), address, 16), "the pipe still holds its 4 bytes");
        }
    }

    /** A pseudo-terminal is a terminal; a pipe, a file, /dev/null and a closed fd are not. */
    @Test
    void isTerminalTellsTerminalsFromOtherFds(@TempDir Path tmp) throws Exception {
        int pty = FileIo.open("/dev/ptmx", OpenFlags.O_RDWR | OpenFlags.O_CLOEXEC | O_NOCTTY, 0);
        int devNull = FileIo.open("/dev/null", OpenFlags.O_RDWR | OpenFlags.O_CLOEXEC, 0);
        Path plain = Files.write(tmp.resolve("plain"), new byte[1]);
        int file = FileIo.open(plain.toString(), OpenFlags.O_RDONLY | OpenFlags.O_CLOEXEC, 0);
        try (Pipe pipe = Pipe.create(0)) {
            assertTrue(FileIo.isTerminal(pty));
            for (int fd : new int[]{devNull, file, pipe.readFd(), pipe.writeFd()}) {
                assertEquals(false, FileIo.isTerminal(fd), "fd " + fd);
            }
        } finally {
            FileIo.close(pty);
            FileIo.close(devNull);
            FileIo.close(file);
        }
        assertEquals(false, FileIo.isTerminal(pty), "closed");
    }

    /** {@code O_NOCTTY} (asm-generic/fcntl.h): opening the pseudo-terminal must not make it this process's. */
    private static final int O_NOCTTY = 0400;

    /** C would open the path up to the NUL, another file than the one named: refused. */
    @Test
    void aPathWithANulIsRefused(@TempDir Path tmp) {
        IllegalArgumentException x = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> FileIo.open(tmp.resolve("a").toString() + "\0b", OpenFlags.O_RDONLY, 0));
        assertTrue(x.getMessage().contains("NUL"), x.getMessage());
    }

    @TempDir
    Path dir;

    @Test
    void directOpenAndAlignedPreadReturnTheFileBytes() throws IOException {
        byte[] content = new byte[64 * 1024];
        new Random(1).nextBytes(content);
        Path file = Files.write(dir.resolve("data"), content);

        int fd = FileIo.open(file.toString(), OpenFlags.O_RDONLY | OpenFlags.O_DIRECT | OpenFlags.O_CLOEXEC, 0);
        try (AlignedBuffer buf = AlignedBuffer.allocate(8192, 4096)) {
            // Oracle: JNR-POSIX reads the open flags back through its own native path.
            int flags = Posix.get().fcntl(fd, jnr.constants.platform.Fcntl.F_GETFL);
            assertEquals(OpenFlags.O_DIRECT, flags & OpenFlags.O_DIRECT, "O_DIRECT is set on the fd");
            assertEquals(OpenFlags.O_RDONLY, flags & OpenFlags.O_ACCMODE);
            assertEquals(flags, Fcntl.getFlags(fd), "our fcntl agrees with JNR-POSIX");

            assertEquals(8192, FileIo.pread(fd, buf.segment(), 16384));
            byte[] expected = java.util.Arrays.copyOfRange(content, 16384, 16384 + 8192);
            assertArrayEquals(expected, buf.segment().toArray(ValueLayout.JAVA_BYTE));
            assertEquals(content.length, FileIo.fstat(fd).size());
            assertTrue(FileIo.fstat(fd).isRegularFile());
        } finally {
            FileIo.close(fd);
        }
    }

    @Test
    void misalignedDirectReadFailsWithEinval() throws IOException {
        Path file = Files.write(dir.resolve("data"), new byte[8192]);
        int fd = FileIo.open(file.toString(), OpenFlags.O_RDONLY | OpenFlags.O_DIRECT, 0);
        try (AlignedBuffer buf = AlignedBuffer.allocate(8192, 4096)) {
            MemorySegment misaligned = buf.segment().asSlice(1, 4096);
            NativeCallException e = assertThrows(NativeCallException.class, () -> FileIo.pread(fd, misaligned, 0));
            assertEquals("pread", e.call());
            assertEquals("EINVAL", e.symbol());
            assertEquals(-Errno.EINVAL, FileIo.preadOrErrno(fd, misaligned, 4096, 0));
        } finally {
            FileIo.close(fd);
        }
    }

    @Test
    void vectoredWriteWithDsyncThenVectoredRead() throws IOException {
        Path file = dir.resolve("v");
        int fd = FileIo.open(file.toString(), OpenFlags.O_RDWR | OpenFlags.O_CREAT | OpenFlags.O_DIRECT, 0644);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment a = arena.allocate(4096, 4096).fill((byte) 'a');
            MemorySegment b = arena.allocate(4096, 4096).fill((byte) 'b');
            MemorySegment iov = arena.allocate(IoVec.SIZE * 2);
            IoVec.set(iov, 0, a);
            IoVec.set(iov, 1, b);
            assertEquals(8192, FileIo.pwritev(fd, iov, 2, 4096, FileIo.RWF_DSYNC));
            FileIo.fdatasync(fd);
            FileIo.fsync(fd);
            a.fill((byte) 0);
            b.fill((byte) 0);
            assertEquals(8192, FileIo.preadv(fd, iov, 2, 4096, 0));
            assertEquals('a', a.get(ValueLayout.JAVA_BYTE, 4095));
            assertEquals('b', b.get(ValueLayout.JAVA_BYTE, 0));
            assertEquals(12288, Files.size(file));
        } finally {
            FileIo.close(fd);
        }
    }

    @Test
    void fallocatePunchHoleAndFtruncate() throws IOException {
        Path file = dir.resolve("sparse");
        int fd = FileIo.open(file.toString(), OpenFlags.O_RDWR | OpenFlags.O_CREAT, 0644);
        try (Arena arena = Arena.ofConfined()) {
            FileIo.fallocate(fd, 0, 0, 1 << 20);
            assertEquals(1 << 20, FileIo.fstat(fd).size());
            assertTrue(FileIo.fstat(fd).blocks() >= (1 << 20) / 512, "space is allocated");
            MemorySegment ones = arena.allocate(4096).fill((byte) 1);
            FileIo.pwrite(fd, ones, 8192);
            FileIo.fallocate(fd, FileIo.FALLOC_FL_PUNCH_HOLE | FileIo.FALLOC_FL_KEEP_SIZE, 8192, 4096);
            MemorySegment back = arena.allocate(4096);
            FileIo.pread(fd, back, 8192);
            assertEquals(-1, back.mismatch(arena.allocate(4096)), "a punched hole reads as zeroes");
            FileIo.ftruncate(fd, 12345);
            assertEquals(12345, Posix.get().fstat(fd).st_size(), "JNR-POSIX sees the new size");
        } finally {
            FileIo.close(fd);
        }
    }

    @Test
    void errorsNameCallAndErrno() {
        NativeCallException e = assertThrows(NativeCallException.class,
                () -> FileIo.open(dir.resolve("missing").toString(), OpenFlags.O_RDONLY, 0));
        assertEquals("ENOENT", e.symbol());
        assertTrue(e.getMessage().startsWith("open: ENOENT (No such file or directory): "), e.getMessage());

        e = assertThrows(NativeCallException.class, () -> FileIo.close(-1));
        assertEquals("close: EBADF (Bad file descriptor)", e.getMessage());
        e = assertThrows(NativeCallException.class, () -> FileIo.fsync(-1));
        assertEquals(Errno.EBADF, e.errno());
        e = assertThrows(NativeCallException.class, () -> FileIo.fallocate(-1, 0, 0, 1));
        assertEquals("fallocate", e.call());
    }

    @Test
    void errnoSymbolsAndTexts() {
        assertEquals("EAGAIN", Errno.symbol(Errno.EAGAIN));
        assertEquals("EOPNOTSUPP", Errno.symbol(95));
        assertEquals("E9999", Errno.symbol(9999));
        assertEquals("Invalid argument", Errno.text(Errno.EINVAL));
        assertEquals("io_uring_setup: EPERM (Operation not permitted)",
                new NativeCallException("io_uring_setup", Errno.EPERM).getMessage());
    }

    @Test
    void rawAddressFormsReadAndWriteLikeTheSegmentForms() throws IOException {
        Path file = dir.resolve("raw");
        int fd = FileIo.open(file.toString(), OpenFlags.O_RDWR | OpenFlags.O_CREAT | OpenFlags.O_DIRECT, 0644);
        try (AlignedBuffer buf = AlignedBuffer.allocate(3 * 4096, 4096); Arena arena = Arena.ofConfined()) {
            MemorySegment a = buf.segment().asSlice(0, 4096).fill((byte) 'a');
            MemorySegment b = buf.segment().asSlice(4096, 4096).fill((byte) 'b');
            MemorySegment c = buf.segment().asSlice(8192, 4096);
            assertEquals(4096, FileIo.pwrite(fd, a.address(), 4096, 0));
            assertEquals(4096, FileIo.pwriteOrErrno(fd, b.address(), 4096, 4096));
            assertEquals(4096, FileIo.pread(fd, c.address(), 4096, 4096));
            assertEquals(-1, c.mismatch(b), "pread at an address returns what pwrite wrote");
            assertEquals(4096, FileIo.preadOrErrno(fd, c.address(), 4096, 0));
            assertEquals(-1, c.mismatch(a));
            assertEquals(0, FileIo.preadOrErrno(fd, c.address(), 4096, 1 << 20), "0 at end of file");

            MemorySegment iov = arena.allocate(IoVec.SIZE * 2);
            IoVec.set(iov, 0, b);
            IoVec.set(iov, 1, a);
            assertEquals(8192, FileIo.pwritev(fd, iov.address(), 2, 8192, FileIo.RWF_DSYNC));
            a.fill((byte) 0);
            b.fill((byte) 0);
            assertEquals(8192, FileIo.preadvOrErrno(fd, iov.address(), 2, 8192, 0));
            assertEquals('b', b.get(ValueLayout.JAVA_BYTE, 4095));
            assertEquals('a', a.get(ValueLayout.JAVA_BYTE, 0));
            b.fill((byte) 0);
            assertEquals(4096, FileIo.preadv(fd, iov.address(), 1, 0, 0));
            assertEquals('a', b.get(ValueLayout.JAVA_BYTE, 0), "what the first pwrite wrote");
            assertEquals(4096, FileIo.pwritevOrErrno(fd, iov.address(), 1, 16384, 0));
            assertEquals(20480, FileIo.fstat(fd).size());
        } finally {
            FileIo.close(fd);
        }
    }

    /** A failed raw-address read is repeated with errno capture; a failed raw write captures at once. */
    @Test
    void rawAddressFormsReportTheErrnoOfTheFailure() throws IOException {
        Path file = Files.write(dir.resolve("ro"), new byte[8192]);
        int fd = FileIo.open(file.toString(), OpenFlags.O_RDONLY | OpenFlags.O_DIRECT, 0);
        try (AlignedBuffer buf = AlignedBuffer.allocate(8192, 4096); Arena arena = Arena.ofConfined()) {
            long misaligned = buf.segment().address() + 1;
            assertEquals(-Errno.EINVAL, FileIo.preadOrErrno(fd, misaligned, 4096, 0));
            NativeCallException e =
                    assertThrows(NativeCallException.class, () -> FileIo.pread(fd, misaligned, 4096, 0));
            assertEquals("pread", e.call());
            assertEquals("EINVAL", e.symbol());
            assertEquals(-Errno.EBADF, FileIo.preadOrErrno(-1, buf.segment().address(), 4096, 0));
            assertEquals(-Errno.EBADF, FileIo.pwriteOrErrno(fd, buf.segment().address(), 4096, 0), "read-only fd");
            e = assertThrows(NativeCallException.class, () -> FileIo.pwrite(fd, buf.segment().address(), 4096, 0));
            assertEquals("pwrite", e.call());
            MemorySegment iov = arena.allocate(IoVec.SIZE);
            IoVec.set(iov, 0, misaligned, 4096);
            assertEquals(-Errno.EINVAL, FileIo.preadvOrErrno(fd, iov.address(), 1, 0, 0));
            assertEquals(-Errno.EOPNOTSUPP, FileIo.preadvOrErrno(fd, iov.address(), 1, 0, 1 << 30),
                    "an unknown RWF_ flag");
            assertEquals(-Errno.EBADF, FileIo.pwritevOrErrno(fd, iov.address(), 1, 0, 0));
            e = assertThrows(NativeCallException.class, () -> FileIo.preadv(-1, iov.address(), 1, 0, 0));
            assertEquals("preadv2", e.call());
            e = assertThrows(NativeCallException.class, () -> FileIo.pwritev(-1, iov.address(), 1, 0, 0));
            assertEquals("pwritev2", e.call());
        } finally {
            FileIo.close(fd);
        }
    }

    @Test
    void rawAddressWriteToAnEventFdAddsAndReportsSaturation() {
        try (EventFd efd = EventFd.create(); Arena arena = Arena.ofConfined()) {
            MemorySegment value = arena.allocate(ValueLayout.JAVA_LONG);
            value.set(ValueLayout.JAVA_LONG, 0, 5);
            assertEquals(8, FileIo.writeOrErrno(efd.fd(), value.address(), 8));
            assertEquals(5, efd.drain());
            value.set(ValueLayout.JAVA_LONG, 0, -2L); // 0xfffffffffffffffe: the largest value the counter holds
            assertEquals(8, FileIo.writeOrErrno(efd.fd(), value.address(), 8));
            value.set(ValueLayout.JAVA_LONG, 0, 1);
            assertEquals(-Errno.EAGAIN, FileIo.writeOrErrno(efd.fd(), value.address(), 8), "counter saturated");
            assertEquals(-Errno.EINVAL, FileIo.writeOrErrno(efd.fd(), value.address(), 4), "not 8 bytes");
            assertEquals(-Errno.EBADF, FileIo.writeOrErrno(-1, value.address(), 8));
        }
    }

    /**
     * The raw-address reads, the raw eventfd write and the waits of {@link Poll} and {@link Epoll} allocate nothing
     * without escape analysis and without the JIT: less than one byte per call in a child JVM run with
     * {@code -XX:-DoEscapeAnalysis}, then with {@code -Xint} (measured: 0 and 0.01). The segment-bound,
     * errno-capturing {@code preadOrErrno} is measured alongside to show that the measurement sees an allocation when
     * there is one (the JDK slices the capture segment per call: 40 B).
     */
    @Test
    void rawAddressCallsAndWaitsAllocateNothingWithoutEscapeAnalysis() throws Exception {
        for (String mode : List.of("-XX:-DoEscapeAnalysis", "-Xint")) {
            Map<String, Double> bytesPerCall = runAllocationProbe(mode);
            // Below one byte per call, as EngineAllocationTest counts: a one-off (the JIT publishing a method, say)
            // may land in the window; anything per call is 16 bytes or more.
            for (String form : List.of("raw-pread", "raw-preadv", "raw-eventfd-write", "ppoll", "epoll-wait",
                    "epoll-pwait2")) {
                assertTrue(bytesPerCall.get(form) < 1, mode + ": " + form + " allocates: " + bytesPerCall);
            }
            assertTrue(bytesPerCall.get("segment-pread") >= 16,
                    mode + ": the control allocated nothing: " + bytesPerCall);
        }
    }

    private static Map<String, Double> runAllocationProbe(String mode) throws IOException, InterruptedException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> command = new ArrayList<>(List.of(java, mode, "--enable-native-access=ALL-UNNAMED",
                "-cp", System.getProperty("java.class.path"), AllocationProbe.class.getName()));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "probe timed out");
        assertEquals(0, p.exitValue(), out);
        Map<String, Double> result = new HashMap<>();
        for (String line : out.split("\\R")) {
            String[] kv = line.split("=");
            if (kv.length == 2 && kv[0].matches("[a-z0-9-]+")) {
                result.put(kv[0], Double.parseDouble(kv[1]));
            }
        }
        assertNotNull(result.get("segment-pread"), out);
        return result;
    }

    /**
     * Child-JVM main for the allocation test: calls each form 20 000 times to settle (first calls on a thread
     * allocate its errno segment and resolve call sites), then 20 000 times under the thread's allocation counter,
     * and prints {@code name=bytesPerCall}.
     */
    static final class AllocationProbe {
        private static final int CALLS = 20_000;

        public static void main(String[] args) {
            com.sun.management.ThreadMXBean threads =
                    (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
            int zero = FileIo.open("/dev/zero", OpenFlags.O_RDONLY | OpenFlags.O_CLOEXEC, 0);
            int epfd = Epoll.create(Epoll.EPOLL_CLOEXEC);
            try (Arena arena = Arena.ofShared(); EventFd efd = EventFd.create(); EventFd ready = EventFd.create()) {
                // A signalled eventfd, so that every wait below returns 1 at once.
                ready.signal();
                MemorySegment pollfd = arena.allocate(Poll.POLLFD_SIZE, 8);
                Poll.set(pollfd, 0, ready.fd(), Poll.POLLIN);
                Epoll.ctl(epfd, Epoll.EPOLL_CTL_ADD, ready.fd(), Epoll.EPOLLIN, 0);
                MemorySegment events = arena.allocate(Epoll.EVENT_SIZE);
                MemorySegment buffer = arena.allocate(512, 512);
                MemorySegment iov = arena.allocate(IoVec.SIZE);
                IoVec.set(iov, 0, buffer);
                MemorySegment one = arena.allocate(ValueLayout.JAVA_LONG);
                one.set(ValueLayout.JAVA_LONG, 0, 1);
                long address = buffer.address();
                long iovAddress = iov.address();
                long oneAddress = one.address();
                for (int round = 0; round < 3; round++) {
                    long sum = 0;
                    long t0 = threads.getCurrentThreadAllocatedBytes();
                    for (int i = 0; i < CALLS; i++) {
                        sum += FileIo.preadOrErrno(zero, address, 512, 0);
                    }
                    long t1 = threads.getCurrentThreadAllocatedBytes();
                    for (int i = 0; i < CALLS; i++) {
                        sum += FileIo.preadvOrErrno(zero, iovAddress, 1, 0, 0);
                    }
                    long t2 = threads.getCurrentThreadAllocatedBytes();
                    for (int i = 0; i < CALLS; i++) {
                        sum += FileIo.writeOrErrno(efd.fd(), oneAddress, 8);
                    }
                    long t3 = threads.getCurrentThreadAllocatedBytes();
                    efd.drain();
                    for (int i = 0; i < CALLS; i++) {
                        sum += FileIo.preadOrErrno(zero, buffer, 512, 0);
                    }
                    long t4 = threads.getCurrentThreadAllocatedBytes();
                    for (int i = 0; i < CALLS; i++) {
                        sum += Poll.ppollOrErrno(pollfd, 1, 1_000_000_000L);
                    }
                    long t5 = threads.getCurrentThreadAllocatedBytes();
                    for (int i = 0; i < CALLS; i++) {
                        sum += Epoll.waitOrErrno(epfd, events, 1, 1000);
                    }
                    long t6 = threads.getCurrentThreadAllocatedBytes();
                    for (int i = 0; i < CALLS; i++) {
                        sum += Epoll.pwait2OrErrno(epfd, events, 1, 1_000_000_000L);
                    }
                    long t7 = threads.getCurrentThreadAllocatedBytes();
                    if (sum != CALLS * (512L * 3 + 8 + 3)) {
                        throw new AssertionError("calls failed: " + sum);
                    }
                    if (round == 2) {
                        System.out.println("raw-pread=" + (double) (t1 - t0) / CALLS);
                        System.out.println("raw-preadv=" + (double) (t2 - t1) / CALLS);
                        System.out.println("raw-eventfd-write=" + (double) (t3 - t2) / CALLS);
                        System.out.println("segment-pread=" + (double) (t4 - t3) / CALLS);
                        System.out.println("ppoll=" + (double) (t5 - t4) / CALLS);
                        System.out.println("epoll-wait=" + (double) (t6 - t5) / CALLS);
                        System.out.println("epoll-pwait2=" + (double) (t7 - t6) / CALLS);
                    }
                }
            } finally {
                FileIo.close(epfd);
                FileIo.close(zero);
            }
        }
    }
}
