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
 * What the JDK allocates when a coroutine yields twice in one use, as a padded write does (it yields in its read,
 * returns to {@code RequestPadding.write}, and yields again in its write). The body recurses {@code prefix}
 * frames (the caller's stack: backend, node, driver), then yields at the end of a branch of {@code firstBranch}
 * frames, returns from it, and yields at the end of a second branch of {@code secondBranch} frames. One
 * operation is one such use: two enters. Run with the allocation profiler:
 * {@code bin/jmh blockcore CoroutineStackDepthBenchmark -f 1 -wi 3 -i 3 -w 1s -r 1s -prof gc}.
 *
 * <p>The JDK copies a yielded stack into a heap "stack chunk" and, when resumed, copies it back: all of it when
 * it is under 500 words (4000 bytes), else only the top frame, and each further frame as it is returned into
 * (continuationFreezeThaw.cpp). Returning from the first branch, the coroutine reaches frames that are still in
 * the chunk; if those are 500 words or more, they stay there. The second yield must then fit its frames into the
 * room the first branch's frames left, and when the second branch is deeper it does not: the JDK allocates a new
 * chunk on every use. Measured (JDK 25.0.3, 2026-11-22, the command above with {@code -p prefix=80,160
 * -p secondBranch=5,10,20}):
 *
 * <table>
 *   <caption>Bytes allocated per use</caption>
 *   <tr><th>prefix</th><th>second branch 5 (= first)</th><th>10</th><th>20</th></tr>
 *   <tr><td>80</td><td>0</td><td>0</td><td>0</td></tr>
 *   <tr><td>160</td><td>0</td><td>776</td><td>1272</td></tr>
 * </table>
 *
 * A padded write has this shape: its read and its write branch off {@code RequestPadding.write} at about the same
 * depth, and which one the JIT makes larger decides. Under {@code blockloop bench} its stack chunks are most of
 * what it allocates (blockcore README, {@code BounceBuffers}).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class CoroutineStackDepthBenchmark {
    /** Frames under the two branches. */
    @Param({"80", "160"})
    int prefix;
    @Param({"5"})
    int firstBranch;
    @Param({"5", "10"})
    int secondBranch;

    private Coroutine looping;
    long sink;

    @Setup
    public void setUp() {
        looping = Coroutine.create(() -> {
            for (;;) {
                sink += frames(prefix, true);
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
