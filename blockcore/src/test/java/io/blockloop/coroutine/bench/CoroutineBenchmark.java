package io.blockloop.coroutine.bench;

import io.blockloop.coroutine.Coroutine;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * The cost of the coroutine primitives on one thread (no AioContext): one enter+yield round trip of a long-lived
 * coroutine, and one create+enter+terminate of a pooled coroutine (QEMU's /perf/yield and /perf/cost).
 * Run: {@code bin/jmh blockcore 'Coroutine.*' -f 1 -wi 3 -i 5 -w 1s -r 1s}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class CoroutineBenchmark {
    private static final Consumer<CoroutineBenchmark> COUNT = b -> b.counter++;

    long counter;
    private Coroutine looping;

    @Setup
    public void setUp() {
        looping = Coroutine.create(() -> {
            for (;;) {
                counter++;
                Coroutine.yield();
            }
        });
    }

    /** enter() resumes the coroutine, which counts and yields straight back. */
    @Benchmark
    public long enterYield() {
        looping.enter();
        return counter;
    }

    /** create() takes the pooled coroutine, enter() runs the body to its end, termination pools it again. */
    @Benchmark
    public long createEnterTerminate() {
        Coroutine.create(COUNT, this).enter();
        return counter;
    }
}
