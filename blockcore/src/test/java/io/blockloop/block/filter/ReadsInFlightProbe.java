package io.blockloop.block.filter;

import io.blockloop.block.BlockChild;
import io.blockloop.block.IoVector;

import java.util.List;

/**
 * A test filter that passes everything through (the {@link FilterDriver} defaults) and counts the reads it
 * passes: in all, and the most that were in flight below it at once (a read is in flight from its call until the
 * filtered node returns it, which an O_DIRECT file node does only after its engine completed it).
 *
 * <p>Threads: the node's home thread for the I/O methods; the counts are read by the test thread after the
 * request it waited for, which orders them (volatile).
 */
final class ReadsInFlightProbe implements FilterDriver {
    private final BlockChild file;
    private int inFlight;
    private volatile int reads;
    private volatile int mostInFlight;

    ReadsInFlightProbe(BlockChild file) {
        this.file = file;
    }

    /** Reads passed since the last {@link #reset()}. */
    int reads() {
        return reads;
    }

    /** The most reads in flight at once since the last {@link #reset()}. */
    int mostInFlight() {
        return mostInFlight;
    }

    void reset() {
        reads = 0;
        mostInFlight = 0;
    }

    @Override
    public BlockChild file() {
        return file;
    }

    @Override
    public String formatName() {
        return "reads-in-flight-probe";
    }

    @Override
    public int coPreadv(long offset, long bytes, IoVector qiov, int flags) {
        reads = reads + 1;
        mostInFlight = Math.max(mostInFlight, ++inFlight);
        try {
            return file.node().coPreadv(offset, bytes, qiov, flags);
        } finally {
            inFlight--;
        }
    }

    @Override
    public List<String> describe() {
        return List.of("reads: " + reads, "most in flight: " + mostInFlight);
    }

    @Override
    public void close() {
    }
}
