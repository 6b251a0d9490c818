package io.blockloop.aio;

import io.blockloop.fdmon.EpollFdMonitor;
import io.blockloop.fdmon.FdMonitorKind;
import io.blockloop.ffm.libc.EventFd;
import io.blockloop.ffm.libc.FileIo;
import io.blockloop.ffm.libc.OpenFlags;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

/** An epoll context starts on poll and switches to epoll at 64 fds (QEMU's test-fdmon-epoll, adapted). */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class EpollUpgradeTest {
    private final List<EventFd> fds = new ArrayList<>();
    private final int[] reads = new int[200];

    @AfterEach
    void closeFds() {
        fds.forEach(EventFd::close);
    }

    private void addNotifiers(AioContext ctx, int count) {
        for (int i = 0; i < count; i++) {
            EventFd e = EventFd.create();
            int index = fds.size();
            fds.add(e);
            ctx.setEventNotifier(e, () -> {
                e.drain();
                reads[index]++;
            }, null, null);
        }
    }

    private void removeAll(AioContext ctx) {
        fds.forEach(ctx::removeEventNotifier);
    }

    @Test
    void theSwitchHappensAtSixtyFourFdsAndEventsStillArrive() {
        try (AioContext ctx = AioContext.create("epoll-upgrade", FdMonitorKind.EPOLL)) {
            // The context's own notifier is one of the 64.
            addNotifiers(ctx, EpollFdMonitor.UPGRADE_THRESHOLD - 2);
            Loops.drain(ctx);
            assertEquals("poll", ctx.monitorName());
            fds.get(5).signal();
            Loops.pollUntil(ctx, () -> reads[5] == 1);

            addNotifiers(ctx, 1);
            Loops.drain(ctx);
            assertEquals("epoll", ctx.monitorName());
            assertEquals(FdMonitorKind.EPOLL, ctx.monitorKind());

            for (int i : new int[] {0, 5, 62}) {
                fds.get(i).signal();
            }
            Loops.pollUntil(ctx, () -> reads[0] == 1 && reads[5] == 2 && reads[62] == 1);
            // A cross-thread BH still wakes the (now epoll-)blocked loop through the notifier.
            boolean[] ran = {false};
            Thread t = Thread.ofPlatform().start(() -> ctx.scheduleOneShot("from-thread", () -> ran[0] = true));
            Loops.pollUntil(ctx, () -> ran[0]);
            joinQuietly(t);
            removeAll(ctx);
            Loops.drain(ctx);
            assertEquals("epoll", ctx.monitorName(), "no downgrade");
        }
    }

    @Test
    void aNestedPollDoesNotSwitch() {
        try (AioContext ctx = AioContext.create("epoll-nested", FdMonitorKind.EPOLL)) {
            addNotifiers(ctx, EpollFdMonitor.UPGRADE_THRESHOLD - 2);
            Loops.drain(ctx);
            String[] seenNested = {null};
            ctx.scheduleOneShot("nested", () -> {
                addNotifiers(ctx, 10);
                fds.getLast().signal();
                Loops.pollUntil(ctx, () -> reads[fds.size() - 1] == 1);
                seenNested[0] = ctx.monitorName();
            });
            Loops.pollUntil(ctx, () -> seenNested[0] != null);
            assertEquals("poll", seenNested[0], "switched inside a nested loop");
            Loops.drain(ctx);
            assertEquals("epoll", ctx.monitorName());
            removeAll(ctx);
        }
    }

    @Test
    void afterAFailedEpollCtlTheContextPollsForGood(@TempDir Path dir) throws Exception {
        Path file = Files.writeString(dir.resolve("regular"), "x");
        int fileFd = FileIo.open(file.toString(), OpenFlags.O_RDONLY | OpenFlags.O_CLOEXEC, 0);
        try (AioContext ctx = AioContext.create("epoll-fallback", FdMonitorKind.EPOLL)) {
            addNotifiers(ctx, EpollFdMonitor.UPGRADE_THRESHOLD);
            Loops.drain(ctx);
            assertEquals("epoll", ctx.monitorName());
            int[] fileReads = {0};
            // epoll refuses regular files (EPERM); poll reports them always readable.
            ctx.setFdHandler(fileFd, () -> fileReads[0]++, null, null, null);
            Loops.pollUntil(ctx, () -> fileReads[0] > 0);
            assertEquals("poll", ctx.monitorName());
            EpollFdMonitor monitor = assertInstanceOf(EpollFdMonitor.class, ctx.monitor());
            assertEquals(EpollFdMonitor.Mode.POLL_FOR_GOOD, monitor.mode());
            ctx.removeFdHandler(fileFd);
            fds.get(9).signal();
            Loops.pollUntil(ctx, () -> reads[9] == 1);
            assertEquals("poll", ctx.monitorName());
            removeAll(ctx);
        } finally {
            FileIo.close(fileFd);
        }
    }

    private static void joinQuietly(Thread t) {
        try {
            t.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
