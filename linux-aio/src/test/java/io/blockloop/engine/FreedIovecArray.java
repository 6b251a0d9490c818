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
 * Child-JVM main for {@link EngineBehaviourTest}: a vectored read waits in a plugged batch while the arena of its
 * iovec array is closed, which only a JVM without {@link ArenaPins#JVM_OPTION} allows. Arguments: the
 * {@link EngineUnderTest} name and a directory for the image. Prints
 * {@code pins=<available> results=<first>,<second> calls=<first>,<second>}.
 */
final class FreedIovecArray {
    private FreedIovecArray() {
    }

    public static void main(String[] args) {
        EngineUnderTest e = EngineUnderTest.valueOf(args[0]);
        int fd = TestFiles.createWithPattern(Path.of(args[1]).resolve("freed-child.img"), 64 * 1024,
                OpenFlags.O_RDWR | OpenFlags.O_DIRECT);
        try (IoEngine engine = e.open();
             AlignedBuffer buf = AlignedBuffer.allocate(2 * 4096, TestFiles.ALIGN)) {
            Recorder rec = new Recorder(2);
            engine.plug();
            engine.read(fd, buf.segment().asSlice(0, 4096), 0, rec, 0);
            Arena gone = Arena.ofConfined();
            MemorySegment iov = gone.allocate(IoVec.SIZE, 8);
            IoVec.set(iov, 0, buf.segment().asSlice(4096, 4096));
            engine.readv(fd, iov, 1, 4096, rec, 1);
            gone.close(); // against IoEngine's rule; refused where the arena is pinned
            engine.unplug();
            rec.awaitCompleted(engine, 2);
            System.out.println("pins=" + ArenaPins.available() + " results=" + rec.results[0] + "," + rec.results[1]
                    + " calls=" + rec.calls[0] + "," + rec.calls[1]);
        } finally {
            FileIo.close(fd);
        }
    }
}
