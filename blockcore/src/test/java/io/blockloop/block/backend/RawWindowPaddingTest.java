package io.blockloop.block.backend;

import io.blockloop.aio.AioContext;
import io.blockloop.aio.AioWait;
import io.blockloop.block.BlockNode;
import io.blockloop.block.CacheMode;
import io.blockloop.block.file.FileOptions;
import io.blockloop.block.raw.RawDriver;
import io.blockloop.block.testing.MemoryDriver;
import io.blockloop.ffm.testing.LoopDevice;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * A raw window that ends inside one of its file's alignment blocks writes nothing outside itself: its requests go
 * down unpadded, and the file node pads them, serialised against the file node's other parents. Found by an audit
 * (session 26): the window took the file's alignment whenever its start was aligned, so a write near its end was
 * padded at the window, wrote back the bytes after the end as it had read them, and lost a write another backend
 * had made there in between.
 */
@Timeout(120)
class RawWindowPaddingTest {
    private AioContext main;

    @BeforeEach
    void setUp() {
        main = BlockImages.mainLoop();
    }

    @AfterEach
    void tearDown() {
        main.close();
    }

    /** A 512-byte write at offset 512 of a 1024-byte window over 4096-aligned storage reaches it as [0, 1024). */
    @Test
    void aWriteNearTheEndOfAWindowWritesOnlyInsideIt() {
        MemoryDriver storage = new MemoryDriver(64 << 10, 4096);
        BlockNode file = new BlockNode("memory", storage, main);
        BlockNode raw = new BlockNode("raw", RawDriver.open(BlockNode.attachForNewParent("file", file), 0, 1024), main);
        BlockBackend blk = BlockBackend.attach("blk", raw);
        try (Arena arena = Arena.ofConfined()) {
            assertEquals(1, raw.limits().requestAlignment(), "a window ending inside a block is not padded itself");
            MemorySegment data = arena.allocate(512);
            data.fill((byte) 1);
            blk.write(512, data, 0);
            assertEquals(List.of("0+4096"), storage.writes, "what reached the storage: the file node's padding");
            assertEquals(0, storage.data[1024], "a byte after the window");
            assertEquals(1, storage.data[1023], "the window's last byte");
        } finally {
            blk.close();
            raw.close();
            file.close();
        }
    }

    /**
     * On a 4Kn loop device, a window [0, 9216) writes [1, 9216) while another backend on the file node writes 512
     * bytes at 10240, outside the window but in the window's last block: the other write survives, every round
     * (it was lost in 20 of 20 rounds).
     */
    @Test
    void aWriteOutsideAWindowSurvivesAConcurrentWriteThroughTheWindow() throws IOException, InterruptedException {
        try (LoopDevice device = LoopDevice.attach(BlockImages.image(BlockImages.tempDir(), "disk-4kn", 1 << 20),
                4096)) {
            FileOptions options = FileOptions.of(device.path().toString()).withCache(CacheMode.NONE);
            try (BlockBackend window = BlockBackend.open("window", new ImageSpec.Raw(options, 0, 9216), main);
                 Arena arena = Arena.ofShared()) {
                BlockBackend side = BlockBackend.attach("side", window.root().children().getFirst().node());
                try {
                    List<String> lost = new ArrayList<>();
                    for (int round = 0; round < 20; round++) {
                        MemorySegment inside = arena.allocate(9215, 4096);
                        inside.fill((byte) (0x10 + round));
                        MemorySegment outside = arena.allocate(512, 4096);
                        outside.fill((byte) (0x80 + round));
                        CompletableFuture<Void> a = window.writeAsync(1, inside, 0);
                        CompletableFuture<Void> b = side.writeAsync(10240, outside, 0);
                        AioWait.waitWhile(main, () -> !a.isDone() || !b.isDone());
                        a.join();
                        b.join();
                        MemorySegment back = arena.allocate(512, 4096);
                        side.read(10240, back);
                        if (back.mismatch(outside) >= 0) {
                            lost.add("round " + round + ": read back 0x" + Integer.toHexString(back.get(
                                    java.lang.foreign.ValueLayout.JAVA_BYTE, 0) & 0xff));
                        }
                    }
                    assertEquals(List.of(), lost, "completed writes outside the window that were lost");
                } finally {
                    side.close();
                }
            }
        }
    }
}
