package io.blockloop.ffm.memory.bench;

import io.blockloop.ffm.memory.ArenaPins;
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
 * What a request pays for keeping its buffer's arena open: {@link ArenaPins#pinUnlessConfinedElsewhere} and
 * {@link ArenaPins#unpin} of one segment, as an engine does per request, for a shared and a confined arena. The
 * figures are in the linux-aio README ("Buffers").
 *
 * <p>Run: {@code bin/jmh ffm-bindings ArenaPinsBenchmark -f 1 -wi 3 -i 5 -w 1s -r 1s}
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class ArenaPinsBenchmark {
    @Param({"shared", "confined"})
    public String arenaKind;

    private Arena arena;
    private MemorySegment buffer;

    @Setup(Level.Trial)
    public void setUp() {
        if (!ArenaPins.available()) {
            throw new IllegalStateException("run with " + ArenaPins.JVM_OPTION + " (bin/jmh passes it)");
        }
        arena = arenaKind.equals("shared") ? Arena.ofShared() : Arena.ofConfined();
        buffer = arena.allocate(4096, 4096);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        arena.close();
    }

    @Benchmark
    public boolean pinAndUnpin() {
        boolean pinned = ArenaPins.pinUnlessConfinedElsewhere(buffer);
        if (pinned) {
            ArenaPins.unpin(buffer);
        }
        return pinned;
    }
}
