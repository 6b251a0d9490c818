package io.blockloop.ffm.libc;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class IoVecTest {
    /**
     * An element is the buffer's address and length; a buffer whose arena is closed is refused (its address may be
     * another allocation's by now, session 26), one confined to another thread is not (a request that thread waits
     * for may carry it).
     */
    @Test
    void setRefusesAClosedBufferAndTakesAForeignOne() throws Exception {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment iov = arena.allocate(IoVec.SIZE * 2, 8);
            MemorySegment buffer = arena.allocate(512, 8);
            IoVec.set(iov, 0, buffer);
            assertEquals(buffer.address(), iov.get(ValueLayout.JAVA_LONG, 0));
            assertEquals(512, iov.get(ValueLayout.JAVA_LONG, 8));

            Arena gone = Arena.ofConfined();
            MemorySegment dead = gone.allocate(64, 8);
            gone.close();
            assertThrows(IllegalStateException.class, () -> IoVec.set(iov, 1, dead));

            MemorySegment[] foreign = new MemorySegment[1];
            Thread.ofPlatform().start(() -> foreign[0] = Arena.ofConfined().allocate(64, 8)).join();
            IoVec.set(iov, 1, foreign[0]);
            assertEquals(64, iov.get(ValueLayout.JAVA_LONG, IoVec.SIZE + 8));
        }
    }
}
