package io.blockloop.fdmon.bench;

import io.blockloop.fdmon.EpollFdMonitor;
import io.blockloop.fdmon.FdMonitor;
import io.blockloop.fdmon.FdNode;
import io.blockloop.fdmon.IoUringFdMonitor;
import io.blockloop.fdmon.PollFdMonitor;
import io.blockloop.fdmon.ReadySink;
import io.blockloop.ffm.libc.EventFd;
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

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The cost of one monitor wait with {@code idle} registered fds that never fire plus one fd that is always
 * readable (an eventfd signalled once and never drained), so every wait returns that one fd at once.
 *
 * <p>{@code epoll} is the standard monitor, which stays on poll below 64 fds (so {@code idle=1} measures its poll
 * mode); {@code epoll-now} upgrades at the first wait. A wait passes timeout -1 (block until ready).
 *
 * <p>Run: {@code bin/jmh fdmon FdMonitorWaitBenchmark -f 1 -wi 2 -i 3 -w 1s -r 2s}
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class FdMonitorWaitBenchmark {
    @Param({"poll", "epoll", "epoll-now", "io_uring"})
    public String monitor;

    @Param({"1", "64", "1024"})
    public int idle;

    private FdMonitor fdMonitor;
    private final List<EventFd> fds = new ArrayList<>();
    private final List<FdNode> nodes = new ArrayList<>();
    private long reported;
    private final ReadySink sink = (node, revents) -> reported++;

    @Setup(Level.Trial)
    public void setUp() {
        fdMonitor = switch (monitor) {
            case "poll" -> new PollFdMonitor();
            case "epoll" -> EpollFdMonitor.open();
            case "epoll-now" -> EpollFdMonitor.open(1);
            case "io_uring" -> IoUringFdMonitor.open();
            default -> throw new IllegalArgumentException(monitor);
        };
        for (int i = 0; i <= idle; i++) {
            EventFd e = EventFd.create();
            fds.add(e);
            FdNode node = new FdNode(e.fd(), FdNode.READ_EVENTS, i);
            nodes.add(node);
            fdMonitor.update(null, node);
        }
        // The last fd is the active one: readable for the whole run.
        fds.getLast().signal();
        fdMonitor.wait(0, sink, false);
        String expected = monitor.equals("poll") || (monitor.equals("epoll") && idle + 1 < 64) ? "poll"
                : monitor.startsWith("epoll") ? "epoll" : "io_uring";
        if (!fdMonitor.name().equals(expected)) {
            throw new IllegalStateException(monitor + " with " + idle + " idle fds runs " + fdMonitor.name());
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        if (reported == 0) {
            throw new IllegalStateException("no wait reported the active fd");
        }
        for (FdNode node : nodes) {
            fdMonitor.update(node, null);
        }
        fdMonitor.wait(0, sink, false);
        fdMonitor.close();
        fds.forEach(EventFd::close);
    }

    @Benchmark
    public int waitWithOneReadyFd() {
        return fdMonitor.wait(-1, sink, false);
    }
}
