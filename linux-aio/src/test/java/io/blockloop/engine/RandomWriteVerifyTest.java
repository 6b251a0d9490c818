package io.blockloop.engine;

import io.blockloop.ffm.libc.IoVec;
import io.blockloop.ffm.memory.AlignedBuffer;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * 10 000 random reads and writes (linear and vectored, some FUA, 512 B to 1 MiB, queue depth varying up to 256,
 * submitted in plugged batches) against an O_DIRECT file and a loop device; every read is checked sector by
 * sector against what the completed writes put there, and the whole region is read back at the end.
 *
 * <p>Requests in flight never overlap (each owns a 1 MiB cell), so the expected content of every sector is known
 * when a read completes. The engines' in-flight limits (64; 128 on the loop's ring; 64 workers) are below the
 * queue depth, and the run starts with one plugged burst of the full queue depth, so their backlogs run for
 * certain ({@link Workload#burstAboveCapacity()}), whatever the random depths and the reaping speed.
 */
class RandomWriteVerifyTest {
    private static final long REGION = 512L << 20;
    private static final int CELL = 1 << 20;
    private static final int CELLS = (int) (REGION / CELL);
    private static final int REQUESTS = 10_000;
    private static final int MAX_QUEUE_DEPTH = 256;
    private static final int MAX_IOV = 8;

    static List<Arguments> enginesAndTargets() {
        List<Arguments> list = new ArrayList<>();
        for (EngineUnderTest e : new EngineUnderTest[] {EngineUnderTest.LINUX_AIO,
                EngineUnderTest.LINUX_AIO_UNSIGNALLED, EngineUnderTest.IO_URING, EngineUnderTest.IO_URING_DEFERRED,
                EngineUnderTest.IO_URING_SHARED, EngineUnderTest.THREADS}) {
            for (Target.Kind kind : Target.Kind.values()) {
                list.add(Arguments.of(e, kind));
            }
        }
        return list;
    }

    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("enginesAndTargets")
    void randomReadsAndWritesReadBackWhatWasWritten(EngineUnderTest engineUnderTest, Target.Kind kind,
                                                    @TempDir Path dir) throws Exception {
        long seed = Long.getLong("blockloop.test.seed", System.nanoTime()); // -Dblockloop.test.seed replays a failure
        try (Target target = Target.create(kind, dir, REGION);
             AlignedBuffer buffers = AlignedBuffer.allocate((long) MAX_QUEUE_DEPTH * CELL, 4096);
             AlignedBuffer iovecs = AlignedBuffer.allocate((long) MAX_QUEUE_DEPTH * MAX_IOV * IoVec.SIZE, 64);
             IoEngine engine = engineUnderTest.open()) {
            Workload w = new Workload(engine, target, buffers.segment(), iovecs.segment(), new Random(seed));
            w.burstAboveCapacity();
            w.run();
            w.verifyWholeRegion();
            assertEquals(0, engine.outstanding());
            // Requests waited in the engine, whichever limit they met first: its own in-flight limit, or the kernel
            // refusing more for now. Before the opening burst, this depended on the random depths and on the
            // reaping speed: a CI run had both counts at 0 on the loop's shared ring, and a replay of its seed passed.
            long backlog = Stats.backlog(engine);
            long refusals = Stats.kernelRefusals(engine);
            assertTrue(backlog + refusals > 0, "the queue depth never exceeded what the engine holds (backlog "
                    + backlog + ", kernel refusals " + refusals + ")");
            assertTrue(w.writes > 1000 && w.reads > 1000 && w.vectored > 500 && w.fua > 100,
                    "workload mix: " + w.writes + " writes, " + w.reads + " reads, " + w.vectored + " vectored, "
                            + w.fua + " FUA (seed " + seed + ")");
        } catch (AssertionError e) {
            throw new AssertionError(e.getMessage() + " (seed " + seed + ")", e);
        }
    }

    /** The test's own bookkeeping; everything runs on the test thread (the engine's owner). */
    private static final class Workload implements CompletionHandler {
        private final IoEngine engine;
        private final Target target;
        private final int fd;
        private final MemorySegment buffers;
        private final MemorySegment iovecs;
        private final Random rnd;
        private final int[] stamps = new int[(int) (REGION / SectorPattern.SECTOR)];
        private final boolean[] cellBusy = new boolean[CELLS];
        private final ArrayDeque<Integer> freeSlots = new ArrayDeque<>();
        // per slot (= tag)
        private final boolean[] slotWrite = new boolean[MAX_QUEUE_DEPTH];
        private final int[] slotCell = new int[MAX_QUEUE_DEPTH];
        private final long[] slotOffset = new long[MAX_QUEUE_DEPTH];
        private final int[] slotSize = new int[MAX_QUEUE_DEPTH];
        private final int[] slotStamp = new int[MAX_QUEUE_DEPTH];
        private final boolean[] slotBusy = new boolean[MAX_QUEUE_DEPTH];
        private int outstanding;
        private int issued;
        private int completed;
        private int nextStamp;
        int writes;
        int reads;
        int vectored;
        int fua;

        Workload(IoEngine engine, Target target, MemorySegment buffers, MemorySegment iovecs, Random rnd) {
            this.engine = engine;
            this.target = target;
            this.fd = target.fd();
            this.buffers = buffers;
            this.iovecs = iovecs;
            this.rnd = rnd;
            for (int i = 0; i < MAX_QUEUE_DEPTH; i++) {
                freeSlots.push(i);
            }
        }

        /**
         * The run's first requests: one plugged burst of {@link #MAX_QUEUE_DEPTH} random ones, more than any engine
         * under test holds, so that requests wait in the engine for certain. A kernel engine's in-flight count falls
         * only when its owner reaps, which it does not do inside the burst; so the burst meets its in-flight limit
         * (or the kernel's refusal). The pool's workers instead take requests while the owner issues them, so that
         * every worker is first held in a {@link BlockingCall}: the burst's first hand-off then finds none idle
         * and no room for another ({@link HeldWorkers}).
         */
        void burstAboveCapacity() throws InterruptedException {
            ThreadPoolEngine pool = engine instanceof ThreadPoolEngine p ? p : null;
            int workers = pool == null ? 0 : pool.maxThreads();
            CountDownLatch release = new CountDownLatch(1);
            Recorder held = new Recorder(workers);
            if (pool != null) {
                HeldWorkers.hold(pool, workers, release, held);
                assertEquals(workers, pool.threads(), "workers running the held calls");
            }
            engine.plug();
            try {
                for (int i = 0; i < MAX_QUEUE_DEPTH; i++) {
                    issue();
                    issued++;
                }
            } finally {
                engine.unplug();
            }
            release.countDown();
            held.awaitCompleted(engine, workers); // the burst's completions are delivered meanwhile, as they come
            for (int i = 0; i < workers; i++) {
                assertEquals(HeldWorkers.RESULT, held.results[i], "held call " + i);
            }
        }

        void run() {
            long deadline = System.nanoTime() + 150_000_000_000L;
            int queueDepth = MAX_QUEUE_DEPTH;
            int nextDraw = 0;
            while (completed < REQUESTS) {
                if (System.nanoTime() > deadline) {
                    fail(engine.name() + ": workload stuck at " + completed + " completions, " + outstanding
                            + " outstanding");
                }
                if (issued >= nextDraw) {
                    // Every 500 requests. A burst may step over the multiple of 500: "issued % 500 == 0" then
                    // missed draws, and with a seed whose first depths stayed below the engine's capacity the whole
                    // run could keep one of them, so the backlog path never ran.
                    queueDepth = rnd.nextInt(4) == 0 ? 1 + rnd.nextInt(8) : 1 + rnd.nextInt(MAX_QUEUE_DEPTH);
                    nextDraw += 500;
                }
                if (issued < REQUESTS && outstanding < queueDepth) {
                    int burst = Math.min(REQUESTS - issued, 1 + rnd.nextInt(queueDepth - outstanding));
                    engine.plug();
                    try {
                        for (int i = 0; i < burst; i++) {
                            issue();
                            issued++;
                        }
                    } finally {
                        engine.unplug();
                    }
                } else {
                    engine.awaitCompletions(100_000_000L);
                }
            }
        }

        private int randomSize() {
            int p = rnd.nextInt(100);
            int sectors;
            if (p < 75) {
                sectors = 1 + rnd.nextInt(16);
            } else if (p < 95) {
                sectors = 17 + rnd.nextInt(256 - 16);
            } else {
                sectors = 257 + rnd.nextInt(2048 - 256);
            }
            return sectors * SectorPattern.SECTOR;
        }

        private void issue() {
            int cell;
            do {
                cell = rnd.nextInt(CELLS);
            } while (cellBusy[cell]);
            cellBusy[cell] = true;
            int slot = freeSlots.pop();
            int size = randomSize();
            int start = rnd.nextInt((CELL - size) / SectorPattern.SECTOR + 1) * SectorPattern.SECTOR;
            long offset = (long) cell * CELL + start;
            boolean write = rnd.nextInt(10) < 6;
            boolean vector = rnd.nextInt(4) == 0 && size >= 2 * SectorPattern.SECTOR;
            MemorySegment buffer = buffers.asSlice((long) slot * CELL, size);
            slotWrite[slot] = write;
            slotCell[slot] = cell;
            slotOffset[slot] = offset;
            slotSize[slot] = size;
            slotBusy[slot] = true;
            outstanding++;
            int flags = 0;
            if (write) {
                int stamp = ++nextStamp;
                slotStamp[slot] = stamp;
                long firstSector = offset / SectorPattern.SECTOR;
                for (int s = 0; s < size / SectorPattern.SECTOR; s++) {
                    SectorPattern.fill(buffer, (long) s * SectorPattern.SECTOR, firstSector + s, stamp);
                }
                if (rnd.nextInt(10) == 0) {
                    flags = IoEngine.FUA;
                    fua++;
                }
                writes++;
            } else {
                buffer.fill((byte) 0x5a);
                reads++;
            }
            if (vector) {
                vectored++;
                MemorySegment iov = iovecs.asSlice((long) slot * MAX_IOV * IoVec.SIZE, MAX_IOV * IoVec.SIZE);
                int count = splitIntoIovecs(buffer, iov);
                if (write) {
                    engine.writev(fd, iov, count, offset, flags, this, slot);
                } else {
                    engine.readv(fd, iov, count, offset, this, slot);
                }
            } else if (write) {
                engine.write(fd, buffer, offset, flags, this, slot);
            } else {
                engine.read(fd, buffer, offset, this, slot);
            }
        }

        /** Cuts {@code buffer} into 2..8 sector-multiple pieces, in order. */
        private int splitIntoIovecs(MemorySegment buffer, MemorySegment iov) {
            int sectors = (int) (buffer.byteSize() / SectorPattern.SECTOR);
            int count = Math.min(sectors, 2 + rnd.nextInt(MAX_IOV - 1));
            long at = 0;
            int left = sectors;
            for (int i = 0; i < count; i++) {
                int piece = i == count - 1 ? left : 1 + rnd.nextInt(left - (count - 1 - i));
                IoVec.set(iov, i, buffer.address() + at, (long) piece * SectorPattern.SECTOR);
                at += (long) piece * SectorPattern.SECTOR;
                left -= piece;
            }
            return count;
        }

        @Override
        public void complete(long tag, long result) {
            int slot = (int) tag;
            assertTrue(slotBusy[slot], "completion delivered twice for slot " + slot);
            slotBusy[slot] = false;
            outstanding--;
            completed++;
            int size = slotSize[slot];
            if (result != size) { // a failed request names the target's state: EPERM means it turned read-only
                assertEquals(size, result, (slotWrite[slot] ? "write" : "read") + " of " + size + " at "
                        + slotOffset[slot] + " on " + target.describe());
            }
            long firstSector = slotOffset[slot] / SectorPattern.SECTOR;
            int count = size / SectorPattern.SECTOR;
            if (slotWrite[slot]) {
                for (int s = 0; s < count; s++) {
                    stamps[(int) (firstSector + s)] = slotStamp[slot];
                }
            } else {
                MemorySegment buffer = buffers.asSlice((long) slot * CELL, size);
                for (int s = 0; s < count; s++) {
                    int sector = (int) (firstSector + s);
                    assertNull(SectorPattern.check(buffer, (long) s * SectorPattern.SECTOR, sector, stamps[sector]));
                }
            }
            cellBusy[slotCell[slot]] = false;
            freeSlots.push(slot);
        }

        /** Reads every cell back (1 MiB reads, up to 32 at a time) and checks every sector on completion. */
        void verifyWholeRegion() {
            ArrayDeque<Integer> free = new ArrayDeque<>();
            for (int i = 0; i < 32; i++) {
                free.push(i);
            }
            int[] checked = new int[1];
            CompletionHandler verify = (tag, result) -> {
                int cell = (int) (tag >>> 8);
                int slot = (int) (tag & 0xff);
                assertEquals(CELL, result, "read-back of cell " + cell);
                MemorySegment buffer = buffers.asSlice((long) slot * CELL, CELL);
                long firstSector = (long) cell * CELL / SectorPattern.SECTOR;
                for (int s = 0; s < CELL / SectorPattern.SECTOR; s++) {
                    int sector = (int) (firstSector + s);
                    assertNull(SectorPattern.check(buffer, (long) s * SectorPattern.SECTOR, sector, stamps[sector]));
                }
                free.push(slot);
                checked[0]++;
            };
            int next = 0;
            long deadline = System.nanoTime() + 60_000_000_000L;
            while (checked[0] < CELLS) {
                assertTrue(System.nanoTime() < deadline, "final read-back stuck at cell " + checked[0]);
                engine.plug();
                while (next < CELLS && !free.isEmpty()) {
                    int slot = free.pop();
                    engine.read(fd, buffers.asSlice((long) slot * CELL, CELL), (long) next * CELL, verify,
                            ((long) next << 8) | slot);
                    next++;
                }
                engine.unplug();
                engine.awaitCompletions(100_000_000L);
            }
        }
    }
}
