package io.blockloop.block.backend;

import io.blockloop.aio.AioContext;
import io.blockloop.block.BlockDriver;
import io.blockloop.block.BlockLimits;
import io.blockloop.block.BlockNode;
import io.blockloop.block.IoVector;
import io.blockloop.block.RequestFlags;
import io.blockloop.block.raw.RawDriver;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * A flush makes every write completed before it durable, write-zeroes included, whichever parent the write came
 * through; and FUA on a write-zeroes is made good by a flush. A driver that counts what reaches it shows it. Found
 * by an audit of the API (session 26): a flush after a write-zeroes never reached the driver, FUA went down to a
 * driver that could not honour it (the file driver ignored it), and a flush through a node nothing had been written
 * through skipped its children, though another parent had written to them.
 */
class FlushAndZeroesDurabilityTest {
    private AioContext main;

    @BeforeEach
    void setUp() {
        main = BlockImages.mainLoop();
    }

    @AfterEach
    void tearDown() {
        main.close();
    }

    @Test
    void aFlushAfterAWriteZeroesReachesTheDriver() {
        CountingDriver driver = new CountingDriver();
        BlockNode node = new BlockNode("counted", driver, main);
        BlockBackend blk = BlockBackend.attach("blk", node);
        try (Arena arena = Arena.ofConfined()) {
            blk.write(0, arena.allocate(512, 512), 0);
            blk.flush();
            assertEquals(1, driver.flushes);
            blk.flush();
            assertEquals(1, driver.flushes, "nothing written since: no second flush of the driver");
            blk.writeZeroes(0, 512, 0);
            assertEquals(1, driver.zeroWrites);
            blk.flush();
            assertEquals(2, driver.flushes, "the flush after the write-zeroes did not reach the driver");
        } finally {
            blk.close();
            node.close();
        }
    }

    @Test
    void fuaOnAWriteZeroesIsAFlushAfterIt() {
        CountingDriver driver = new CountingDriver();
        BlockNode node = new BlockNode("counted", driver, main);
        BlockBackend blk = BlockBackend.attach("blk", node);
        try {
            blk.writeZeroes(0, 4096, RequestFlags.FUA);
            assertEquals(1, driver.zeroWrites);
            assertEquals(0, driver.fuaOnZeroWrites, "FUA passed down to a zero-write");
            assertEquals(1, driver.flushes, "no flush made the FUA write-zeroes durable");
            blk.writeZeroes(0, 4096, 0);
            assertEquals(1, driver.flushes, "a write-zeroes without FUA flushed");
        } finally {
            blk.close();
            node.close();
        }
    }

    @Test
    void aFlushReachesAChildThatAnotherParentWroteTo() {
        CountingDriver driver = new CountingDriver();
        BlockNode file = new BlockNode("counted", driver, main);
        BlockNode raw = new BlockNode("raw", RawDriver.open(BlockNode.attachForNewParent("file", file), 0, -1), main);
        BlockBackend top = BlockBackend.attach("top", raw);
        BlockBackend side = BlockBackend.attach("side", file);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buffer = arena.allocate(512, 512);
            top.write(0, buffer, 0);
            top.flush();
            assertEquals(1, driver.flushes);
            side.write(512, buffer, 0); // through the other parent: the raw node's generation does not move
            top.flush();
            assertEquals(2, driver.flushes, "the top's flush skipped the child that 'side' wrote to");
            top.flush();
            assertEquals(2, driver.flushes, "nothing written since: no third flush of the driver");
        } finally {
            side.close();
            top.close();
            raw.close();
            file.close();
        }
    }

    /**
     * A 1 MiB image that keeps nothing and counts zero-writes (and the FUA among them) and flushes. It does
     * not honour FUA itself, so the node must emulate it. Its counters are plain: the tests' requests run in the
     * main loop, on the test's thread.
     */
    private static final class CountingDriver implements BlockDriver {
        int zeroWrites;
        int fuaOnZeroWrites;
        int flushes;

        @Override
        public String formatName() {
            return "counting";
        }

        @Override
        public long length() {
            return 1 << 20;
        }

        @Override
        public BlockLimits limits() {
            return new BlockLimits(512, 1, 1L << 30);
        }

        @Override
        public int supportedWriteFlags() {
            return 0;
        }

        @Override
        public int coPreadv(long offset, long bytes, IoVector qiov, int flags) {
            return 0;
        }

        @Override
        public int coPwritev(long offset, long bytes, IoVector qiov, int flags) {
            return 0;
        }

        @Override
        public int coFlush() {
            flushes++;
            return 0;
        }

        @Override
        public int coPdiscard(long offset, long bytes) {
            return 0;
        }

        @Override
        public int coPwriteZeroes(long offset, long bytes, int flags) {
            zeroWrites++;
            if ((flags & RequestFlags.FUA) != 0) {
                fuaOnZeroWrites++;
            }
            return 0;
        }

        @Override
        public List<String> describe() {
            return List.of();
        }

        @Override
        public void close() {
        }
    }
}
