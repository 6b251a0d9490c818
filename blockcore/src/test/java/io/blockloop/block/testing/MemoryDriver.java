package io.blockloop.block.testing;

import io.blockloop.block.BlockLimits;
import io.blockloop.block.IoVector;
import io.blockloop.coroutine.Coroutine;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * An image in memory with a request alignment of its own. It records each write as "offset+length", and can hold
 * one read after it took its bytes, so that a test can run other requests while a read-modify-write cycle is
 * between its read and its write.
 *
 * <p>Threads: the node's home thread, for its requests and for {@link #releaseRead()}; {@link #holdNextRead()}
 * and {@link #readHeld()} any thread.
 */
public final class MemoryDriver extends StubDriver {
    /** The image's bytes. */
    public final byte[] data;
    /** Each write that reached the driver, as "offset+length". */
    public final List<String> writes = new ArrayList<>();
    private volatile boolean holdNextRead;
    /** Volatile: a test on another thread may ask whether a read is held. */
    private volatile Coroutine heldReader;

    public MemoryDriver(int size, int requestAlignment) {
        super("memory", size, new BlockLimits(requestAlignment, 1, 1L << 30));
        this.data = new byte[size];
    }

    /** Makes the next read take its bytes and then wait until {@link #releaseRead()}. */
    public void holdNextRead() {
        holdNextRead = true;
    }

    /** Whether a read took its bytes and waits. */
    public boolean readHeld() {
        return heldReader != null;
    }

    /** Lets the held read return. */
    public void releaseRead() {
        Coroutine reader = heldReader;
        heldReader = null;
        reader.wake();
    }

    @Override
    public int coPreadv(long offset, long bytes, IoVector qiov, int flags) {
        qiov.copyFrom(MemorySegment.ofArray(data), offset, 0, bytes);
        if (holdNextRead) {
            holdNextRead = false;
            heldReader = Coroutine.self();
            Coroutine.yield();
        }
        return 0;
    }

    @Override
    public int coPwritev(long offset, long bytes, IoVector qiov, int flags) {
        writes.add(offset + "+" + bytes);
        qiov.copyTo(0, MemorySegment.ofArray(data), offset, bytes);
        return 0;
    }

    @Override
    public int coPwriteZeroes(long offset, long bytes, int flags) {
        Arrays.fill(data, (int) offset, (int) (offset + bytes), (byte) 0);
        return 0;
    }
}
