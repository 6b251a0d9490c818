package io.blockloop.engine;

import io.blockloop.ffm.libc.FileIo;
import io.blockloop.ffm.libc.IoVec;
import io.blockloop.ffm.libc.OpenFlags;
import io.blockloop.ffm.memory.AlignedBuffer;
import io.blockloop.ffm.memory.ArenaPins;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;

/**
 * A vectored read waits in a plugged batch while the caller closes the arena of its iovec array (against IoEngine's
 * rule), for {@link EngineBehaviourTest}: where the arena is pinned the close is refused and the array closed after
 * the delivery; in a JVM without {@link ArenaPins#JVM_OPTION} the close goes through. {@link #main} runs it in such
 * a child JVM, with the {@link EngineUnderTest} name and a directory for the image as arguments.
 */
final class FreedIovecArray {
    private FreedIovecArray() {
    }

    public static void main(String[] args) {
        System.out.println(run(EngineUnderTest.valueOf(args[0]), Path.of(args[1])));
    }

    /** Returns {@code pins=<available> closed=<went through> results=<first>,<second> calls=<first>,<second>}. */
    static String run(EngineUnderTest e, Path dir) {
        int fd = TestFiles.createWithPattern(dir.resolve("freed.img"), 64 * 1024,
                OpenFlags.O_RDWR | OpenFlags.O_DIRECT);
        try (IoEngine engine = e.open();
             AlignedBuffer buf = AlignedBuffer.allocate(2 * 4096, TestFiles.ALIGN)) {
            Recorder rec = new Recorder(2);
            engine.plug();
            engine.read(fd, buf.segment().asSlice(0, 4096), 0, rec, 0);
            Arena arena = Arena.ofConfined();
            MemorySegment iov = arena.allocate(IoVec.SIZE, 8);
            IoVec.set(iov, 0, buf.segment().asSlice(4096, 4096));
            engine.readv(fd, iov, 1, 4096, rec, 1);
            boolean closed = tryClose(arena);
            engine.unplug();
            rec.awaitCompleted(engine, 2);
            if (!closed) {
                arena.close();
            }
            return "pins=" + ArenaPins.available() + " closed=" + closed + " results=" + rec.results[0] + ","
                    + rec.results[1] + " calls=" + rec.calls[0] + "," + rec.calls[1];
        } finally {
            FileIo.close(fd);
        }
    }

    private static boolean tryClose(Arena arena) {
        try {
            arena.close();
            return true;
        } catch (IllegalStateException pinned) {
            return false;
        }
    }
}
