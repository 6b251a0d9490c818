package io.blockloop.aio.bench;

import io.blockloop.aio.BottomHalf;
import io.blockloop.aio.IOThread;
import io.blockloop.aio.PollParams;
import io.blockloop.fdmon.EpollFdMonitor;
import io.blockloop.fdmon.FdMonitor;
import io.blockloop.fdmon.IoUringFdMonitor;
import io.blockloop.fdmon.PollFdMonitor;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.Pipe;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Supplier;

/**
 * Cross-thread wake-up round trip between two loops: a BH in loop A schedules a BH in loop B, which schedules
 * A's BH again; one operation is one A → B → A round trip (two cross-thread wake-ups). The benchmark thread
 * starts a batch of {@value #ROUND_TRIPS} round trips and sleeps until the batch is done.
 *
 * <p>Variants: {@code poll}, {@code epoll} (epoll from the first fd, not after 64), {@code io_uring} — each
 * without busy polling (every wake-up goes through the eventfd) and with the IOThread default of 32768 ns
 * ({@code +busy}); and {@code selector}: the same ping-pong between two threads that each run a
 * {@link Selector} over a {@link Pipe}, waking the peer by writing one byte into its pipe.
 *
 * <p>Run: {@code bin/jmh blockcore WakeupBenchmark -bm sample -f 1 -wi 2 -i 3 -w 1s -r 2s}. Busy polling depends on
 * free CPUs, so run it also under contention: with {@code taskset -c 1 sh -c 'while :; do :; done'} holding a CPU,
 * and with the whole JVM on one CPU ({@code taskset -c 0 bin/jmh ...}); fdmon/README.md has the results.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class WakeupBenchmark {
    static final int ROUND_TRIPS = 2000;

    @Param({"poll", "epoll", "io_uring", "poll+busy", "epoll+busy", "io_uring+busy", "selector"})
    public String variant;

    private PingPong pingPong;

    /** Two loops that pass a ball back and forth; run() plays one batch and returns when it is over. */
    private interface PingPong extends AutoCloseable {
        void run(int roundTrips);

        @Override
        void close();
    }

    @Setup(Level.Trial)
    public void setUp() throws IOException {
        if (variant.equals("selector")) {
            pingPong = new SelectorPingPong();
            return;
        }
        boolean busy = variant.endsWith("+busy");
        String monitor = busy ? variant.substring(0, variant.length() - "+busy".length()) : variant;
        Supplier<FdMonitor> factory = switch (monitor) {
            case "poll" -> PollFdMonitor::new;
            case "epoll" -> () -> EpollFdMonitor.open(1);
            case "io_uring" -> IoUringFdMonitor::open;
            default -> throw new IllegalArgumentException(variant);
        };
        pingPong = new LoopPingPong(factory, busy ? PollParams.IOTHREAD_DEFAULT : PollParams.OFF);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        pingPong.close();
    }

    @Benchmark
    @OperationsPerInvocation(ROUND_TRIPS)
    public void roundTrip() {
        pingPong.run(ROUND_TRIPS);
    }

    /** The batch's end, reported to the sleeping benchmark thread. */
    private static final class Batch {
        private volatile Thread waiter;
        private volatile boolean done;

        void start() {
            done = false;
            waiter = Thread.currentThread();
        }

        void finish() {
            done = true;
            LockSupport.unpark(waiter);
        }

        void await() {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (!done) {
                // Sleeps until finish() unparks it (a spurious return just loops): the benchmark thread stays
                // off the two cores the loops need.
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new IllegalStateException("ping-pong stuck");
                }
                LockSupport.parkNanos(this, left);
            }
        }
    }

    private static final class LoopPingPong implements PingPong {
        private final IOThread a;
        private final IOThread b;
        private final BottomHalf pingA;
        private final BottomHalf pongB;
        private final Batch batch = new Batch();
        /** Touched only by the BH that holds the ball; the BH hand-off orders the accesses. */
        private int remaining;

        LoopPingPong(Supplier<FdMonitor> factory, PollParams params) {
            a = new IOThread("ping", factory, params).start();
            b = new IOThread("pong", factory, params).start();
            BottomHalf[] holder = new BottomHalf[2];
            pingA = a.context().newBottomHalf("ping", () -> {
                if (remaining == 0) {
                    batch.finish();
                } else {
                    remaining--;
                    holder[1].schedule();
                }
            });
            pongB = b.context().newBottomHalf("pong", pingA::schedule);
            holder[1] = pongB;
        }

        @Override
        public void run(int roundTrips) {
            batch.start();
            remaining = roundTrips; // published to A by the schedule below (volatile CAS)
            pingA.schedule();
            batch.await();
        }

        @Override
        public void close() {
            pingA.delete();
            pongB.delete();
            a.close();
            b.close();
        }
    }

    private static final class SelectorPingPong implements PingPong {
        private final Pipe toA = Pipe.open();
        private final Pipe toB = Pipe.open();
        private final Batch batch = new Batch();
        private final Thread a;
        private final Thread b;
        private volatile boolean stopping;
        /** Volatile: a pipe write is a system call, not a Java happens-before edge. */
        private volatile int remaining;

        SelectorPingPong() throws IOException {
            a = Thread.ofPlatform().name("selector-ping").start(() -> loop(toA, toB, true));
            b = Thread.ofPlatform().name("selector-pong").start(() -> loop(toB, toA, false));
        }

        private void loop(Pipe in, Pipe out, boolean isA) {
            ByteBuffer buffer = ByteBuffer.allocateDirect(64);
            ByteBuffer one = ByteBuffer.allocateDirect(1);
            try (Selector selector = Selector.open()) {
                in.source().configureBlocking(false);
                in.source().register(selector, SelectionKey.OP_READ);
                while (!stopping) {
                    selector.select();
                    selector.selectedKeys().clear();
                    buffer.clear();
                    if (in.source().read(buffer) <= 0 || stopping) {
                        continue;
                    }
                    if (isA && remaining == 0) {
                        batch.finish();
                        continue;
                    }
                    if (isA) {
                        remaining--;
                    }
                    one.clear();
                    out.sink().write(one);
                }
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        }

        @Override
        public void run(int roundTrips) {
            batch.start();
            remaining = roundTrips;
            try {
                toA.sink().write(ByteBuffer.allocate(1));
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
            batch.await();
        }

        @Override
        public void close() {
            stopping = true;
            try {
                toA.sink().write(ByteBuffer.allocate(1));
                toB.sink().write(ByteBuffer.allocate(1));
                a.join();
                b.join();
                toA.sink().close();
                toA.source().close();
                toB.sink().close();
                toB.source().close();
            } catch (IOException e) {
                throw new IllegalStateException(e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
