package io.blockloop.ffm.memory.bench;

import io.blockloop.ffm.memory.ZeroFill;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;

/**
 * Zeroing {@code size} bytes of native memory, 4096-aligned (a read buffer of the null driver): the JDK's
 * {@link MemorySegment#fill} against {@link ZeroFill#zero}, which calls glibc's {@code memset} from
 * 4 KiB up. The buffer stays in the cache, as the null driver's do; the figures are in the ffm-bindings README.
 *
 * <p>Run: {@code bin/jmh ffm-bindings ZeroFillBenchmark -f 1 -wi 3 -i 5 -w 1s -r 1s}
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class ZeroFillBenchmark {
    @Param({"512", "4096", "16384", "65536", "1048576"})
    public int size;

    private Arena arena;
    private MemorySegment buffer;

    @Setup(Level.Trial)
    public void setUp() {
        arena = Arena.ofConfined();
        buffer = arena.allocate(size, 4096);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        arena.close();
    }

    @Benchmark
    public MemorySegment segmentFill() {
        return buffer.fill((byte) 0);
    }

    @Benchmark
    public MemorySegment zeroFill() {
        ZeroFill.zero(buffer);
        return buffer;
    }
}
