package io.blockloop.engine;

import io.blockloop.ffm.libc.FileIo;
import io.blockloop.ffm.libc.IoVec;
import io.blockloop.ffm.libc.OpenFlags;
import io.blockloop.ffm.memory.AlignedBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Registered (fixed) buffers on real rings, the engine's own and the event loop's: reads and writes inside a
 * registered buffer go out as READ_FIXED/WRITE_FIXED and move the right bytes, the others take the normal path,
 * and unregistering (or closing the engine, on the loop's ring) gives the ring's table back.
 */
class RegisteredBufferTest {
    private static final int DIRECT = OpenFlags.O_RDWR | OpenFlags.O_DIRECT;
    private static final int SIZE = 256 * 1024;

    @TempDir
    Path dir;

    @ParameterizedTest
    @EnumSource(value = EngineUnderTest.class, names = {"IO_URING", "IO_URING_SHARED"})
    void readsAndWritesInsideARegisteredBufferGoOutFixedAndMoveTheRightBytes(EngineUnderTest e) {
        int fd = TestFiles.createWithPattern(dir.resolve("f.img"), SIZE, DIRECT);
        try (IoUringEngine engine = (IoUringEngine) e.open();
             AlignedBuffer registered = AlignedBuffer.allocate(64 * 1024, 4096);
             AlignedBuffer plain = AlignedBuffer.allocate(64 * 1024, 4096);
             Arena arena = Arena.ofConfined()) {
            assertTrue(engine.registerBuffer(registered.segment()), "errno " + engine.lastBufferRegistrationErrno());
            assertEquals(1, engine.registeredBuffers());
            Recorder rec = new Recorder(16);
            MemorySegment in = registered.segment();

            // A fixed read of the file's pattern into the middle of the registered buffer.
            engine.read(fd, in.asSlice(8192, 16384), 4096, rec, 0);
            rec.awaitCompleted(engine, 1);
            assertEquals(16384, rec.results[0]);
            assertNull(TestFiles.checkPatternThenZeros(in.asSlice(8192, 16384), 4096, SIZE));
            assertEquals(1, engine.fixedRequests());

            // A fixed write with FUA from the registered buffer, read back through unregistered memory.
            for (int i = 0; i < 8192; i++) {
                in.set(JAVA_BYTE, 32768 + i, (byte) (i * 7 + 3));
            }
            engine.write(fd, in.asSlice(32768, 8192), 65536, IoEngine.FUA, rec, 1);
            rec.awaitCompleted(engine, 2);
            assertEquals(8192, rec.results[1]);
            engine.read(fd, plain.segment().asSlice(0, 8192), 65536, rec, 2);
            rec.awaitCompleted(engine, 3);
            assertEquals(8192, rec.results[2]);
            assertEquals(-1, plain.segment().asSlice(0, 8192).mismatch(in.asSlice(32768, 8192)));
            assertEquals(2, engine.fixedRequests(), "the read into unregistered memory went out as READ");

            // One-element vectors inside the buffer go out fixed; two elements take READV.
            MemorySegment one = arena.allocate(IoVec.SIZE, 8);
            IoVec.set(one, 0, in.address(), 4096);
            engine.readv(fd, one, 1, 0, rec, 3);
            MemorySegment two = arena.allocate(2L * IoVec.SIZE, 8);
            IoVec.set(two, 0, in.address() + 4096, 2048);
            IoVec.set(two, 1, in.address() + 6144, 2048);
            engine.readv(fd, two, 2, 4096, rec, 4);
            rec.awaitCompleted(engine, 5);
            assertEquals(4096, rec.results[3]);
            assertEquals(4096, rec.results[4]);
            assertNull(TestFiles.checkPatternThenZeros(in.asSlice(0, 8192), 0, SIZE));
            assertEquals(3, engine.fixedRequests());

            // Unregistered: the same memory takes the normal path.
            assertTrue(engine.unregisterBuffer(registered.segment()));
            assertFalse(engine.unregisterBuffer(registered.segment()));
            assertEquals(0, engine.registeredBuffers());
            engine.read(fd, in.asSlice(0, 4096), 0, rec, 5);
            rec.awaitCompleted(engine, 6);
            assertEquals(4096, rec.results[5]);
            assertEquals(3, engine.fixedRequests());
        } finally {
            FileIo.close(fd);
        }
    }

    @Test
    void anEngineOnTheLoopsRingGivesTheRingsTableBackWhenItCloses() {
        try (AlignedBuffer buffer = AlignedBuffer.allocate(4096, 4096)) {
            try (IoEngine first = EngineUnderTest.IO_URING_SHARED.open()) {
                assertTrue(first.registerBuffer(buffer.segment()));
            }
            // The ring allows one table: had the first engine left its table there, this would be EBUSY.
            try (IoUringEngine second = (IoUringEngine) EngineUnderTest.IO_URING_SHARED.open()) {
                assertTrue(second.registerBuffer(buffer.segment()), "errno " + second.lastBufferRegistrationErrno());
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = EngineUnderTest.class, names = {"LINUX_AIO", "THREADS"})
    void theOtherEnginesDecline(EngineUnderTest e) {
        try (IoEngine engine = e.open(); AlignedBuffer buffer = AlignedBuffer.allocate(4096, 4096)) {
            assertFalse(engine.registerBuffer(buffer.segment()));
            assertFalse(engine.unregisterBuffer(buffer.segment()));
        }
    }
}
