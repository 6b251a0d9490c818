package io.blockloop.coroutine.bench;

import io.blockloop.coroutine.Coroutine;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.CompilerControl;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

import java.util.concurrent.TimeUnit;

/**
 * When the JDK allocates a heap "stack chunk" for a coroutine's yield, in the shape of a padded write: in each use
 * the coroutine yields at the end of a branch of {@code firstBranch} frames (the read), returns from it, and yields
 * at the end of a second branch of {@code secondBranch} frames (the write), both above {@code prefix} frames (the
 * caller's stack: backend, node, driver) and one bottom frame that is {@code compiled} or, as the JIT leaves a
 * method it has not compiled yet, {@code interpreted}. One operation is one use: two enters. Run with the
 * allocation profiler: {@code bin/jmh blockcore CoroutineStackChunkBenchmark -f 1 -wi 3 -i 3 -w 1s -r 1s -prof gc}.
 *
 * <p>A yield copies the coroutine's frames into a chunk and a resume copies them back: all of them when they are
 * under 500 words (4000 bytes), else only the top frame, and each further frame as it is returned into
 * (continuationFreezeThaw.cpp). Two conditions make a yield allocate a new chunk instead of reusing the one it has,
 * on every use; both are reproduced here:
 * <ul>
 *   <li>an interpreted frame among those the coroutine returns into between its yields: the JDK's fast freeze does
 *       not take a chunk with interpreted frames in it;</li>
 *   <li>500 words or more under the branches, and a second branch deeper than the first: the frames under the
 *       branches stay in the chunk, and the second yield's frames need more room than the first's left.</li>
 * </ul>
 * Measured (JDK 25.0.3, 2026-11-22 15:50 UTC, the command above), bytes allocated and nanoseconds per use:
 *
 * <table>
 *   <caption>Bytes allocated and time per use</caption>
 *   <tr><th>prefix</th><th>bottom</th><th>second branch 5 (= first)</th><th>second branch 10</th></tr>
 *   <tr><td>20</td><td>compiled</td><td>0 B, 339 ns</td><td>0 B, 381 ns</td></tr>
 *   <tr><td>20</td><td>interpreted</td><td>528 B, 2860 ns</td><td>776 B, 2851 ns</td></tr>
 *   <tr><td>160</td><td>compiled</td><td>0 B, 3019 ns</td><td>776 B, 3810 ns</td></tr>
 *   <tr><td>160</td><td>interpreted</td><td>528 B, 14071 ns</td><td>776 B, 14777 ns</td></tr>
 * </table>
 *
 * So one interpreted frame makes every use allocate and cost five to eight times as much; a deep stack costs time
 * too (each frame is copied back as it is returned into).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class CoroutineStackChunkBenchmark {
    /** Frames under the two branches. */
    @Param({"20", "160"})
    int prefix;
    @Param({"5"})
    int firstBranch;
    @Param({"5", "10"})
    int secondBranch;
    /** Whether the frame under them all is compiled or stays in the interpreter. */
    @Param({"compiled", "interpreted"})
    String bottom;

    private Coroutine looping;
    long sink;

    @Setup
    public void setUp() {
        boolean interpreted = bottom.equals("interpreted");
        looping = Coroutine.create(() -> {
            for (;;) {
                sink += interpreted ? interpretedBottom() : compiledBottom();
            }
        });
    }

    /** One use: the first enter runs to the first branch's yield, the second to the second branch's. */
    @Benchmark
    public long twoYieldsPerUse() {
        looping.enter();
        looping.enter();
        return sink;
    }

    /** The bottom frame, compiled like the rest. */
    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    private long compiledBottom() {
        return frames(prefix, true);
    }

    /** The bottom frame, never compiled: as a method the JIT has not reached yet. */
    @CompilerControl(CompilerControl.Mode.EXCLUDE)
    private long interpretedBottom() {
        return frames(prefix, true);
    }

    /**
     * Recurses {@code n} frames with a few values live across each call (so each frame has a known size), then
     * runs both branches (when {@code prefix}) or yields.
     */
    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    private long frames(int n, boolean prefix) {
        long a = n * 3L;
        long b = a ^ 7;
        long c = a + b;
        if (n == 0) {
            if (prefix) {
                return frames(firstBranch, false) + frames(secondBranch, false);
            }
            Coroutine.yield();
            return c;
        }
        return frames(n - 1, prefix) + a + b + c;
    }
}
