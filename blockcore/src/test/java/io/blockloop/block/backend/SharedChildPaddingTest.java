package io.blockloop.block.backend;

import io.blockloop.aio.AioContext;
import io.blockloop.aio.AioWait;
import io.blockloop.block.BlockChild;
import io.blockloop.block.BlockDriver;
import io.blockloop.block.BlockNode;
import io.blockloop.block.filter.ErrorInjectionDriver;
import io.blockloop.block.filter.ThrottleDriver;
import io.blockloop.block.filter.ThrottleLimits;
import io.blockloop.block.raw.RawDriver;
import io.blockloop.block.testing.MemoryDriver;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A node that passes requests down (a filter, or a raw window aligned at both ends) does not pad them itself: the
 * node whose storage needs the alignment does, so a read-modify-write cycle is serialised against every parent of
 * that node. Found as a known limit (session 26) and fixed in session 28: such a node took its child's alignment,
 * padded at its own level, and wrote back a whole block it had read before another parent's write to that block
 * completed, so the other write was lost.
 */
@Timeout(60)
class SharedChildPaddingTest {
    private static final int BLOCK = 4096;
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
    void aWriteThroughAnErrorInjectionFilterKeepsAnotherParentsWrite() {
        checkTheOtherParentsWriteSurvives(ErrorInjectionDriver::open, 0);
    }

    @Test
    void aWriteThroughAThrottleFilterKeepsAnotherParentsWrite() {
        checkTheOtherParentsWriteSurvives(child -> ThrottleDriver.open(child, ThrottleLimits.NONE), 0);
    }

    @Test
    void aWriteThroughAnAlignedRawWindowKeepsAnotherParentsWrite() {
        checkTheOtherParentsWriteSurvives(child -> RawDriver.open(child, BLOCK, 2 * BLOCK), BLOCK);
    }

    /**
     * Parent A writes one byte at 1 through the node above the storage (which starts {@code shift} bytes into it);
     * the storage holds A's read of the block, and meanwhile parent B, a backend on the storage node, writes that
     * whole block. Whatever the order the two were serialised in, B's bytes outside A's byte are in the block
     * afterwards. Padded above the storage, A wrote back the block as it had read it, over B's write.
     */
    private void checkTheOtherParentsWriteSurvives(Function<BlockChild, BlockDriver> above,
                                                   int shift) {
        MemoryDriver storage = new MemoryDriver(64 << 10, BLOCK);
        BlockNode file = new BlockNode("memory", storage, main);
        BlockNode node = new BlockNode("above", above.apply(BlockNode.attachForNewParent("file", file)), main);
        BlockBackend a = BlockBackend.attach("a", node);
        BlockBackend b = BlockBackend.attach("b", file);
        try (Arena arena = Arena.ofConfined()) {
            assertEquals(1, node.limits().requestAlignment(), "the node above the storage pads nothing itself");
            MemorySegment aByte = arena.allocate(1);
            aByte.fill((byte) 0xAA);
            MemorySegment bBlock = arena.allocate(BLOCK, BLOCK);
            bBlock.fill((byte) 0xBB);

            storage.holdNextRead();
            CompletableFuture<Void> aDone = a.writeAsync(1, aByte, 0);
            assertTrue(storage.readHeld(), "A's read-modify-write cycle did not read the block");
            CompletableFuture<Void> bDone = b.writeAsync(shift, bBlock, 0);
            storage.releaseRead();
            AioWait.waitWhile(main, () -> !aDone.isDone() || !bDone.isDone());
            aDone.join();
            bDone.join();

            byte[] block = Arrays.copyOfRange(storage.data, shift, shift + BLOCK);
            for (int i = 0; i < BLOCK; i++) {
                if (i != 1 && block[i] != (byte) 0xBB) {
                    throw new AssertionError("B's completed write was lost: byte " + i + " is 0x"
                            + Integer.toHexString(block[i] & 0xff) + "; writes " + storage.writes);
                }
            }
            assertTrue(block[1] == (byte) 0xAA || block[1] == (byte) 0xBB, "A's byte: " + block[1]);
            assertFalse(storage.writes.isEmpty());
            assertEquals(List.of(), storage.writes.stream().filter(w -> !w.endsWith("+" + BLOCK)).toList(),
                    "every write reached the storage as one aligned block");
        } finally {
            b.close();
            a.close();
            node.close();
            file.close();
        }
    }
}
