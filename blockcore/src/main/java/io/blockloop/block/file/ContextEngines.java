package io.blockloop.block.file;

import io.blockloop.aio.AioContext;
import io.blockloop.aio.ContextLocal;
import io.blockloop.aio.FdCallbacks;
import io.blockloop.engine.IoEngine;
import io.blockloop.engine.IoUringEngine;
import io.blockloop.engine.LinuxAioEngine;
import io.blockloop.engine.ThreadPoolEngine;

import java.time.Duration;

/**
 * The I/O engines of one {@link AioContext}, shared by every {@code file} node living there (QEMU's
 * {@code aio_get_linux_aio}, {@code aio_get_linux_io_uring} and {@code aio_get_thread_pool}): each opened on
 * first use and plugged into the context, its completion fd watched with {@code processCompletions} as the read
 * handler and its {@code poll} as the busy-poll check (which delivers what it finds, so the poll-ready callback
 * has nothing left to do). The engines are closed when the context closes.
 *
 * <p>The io_uring engine goes on the context's own ring when its fd monitor is io_uring
 * ({@link IoUringEngine#openShared}): one {@code io_uring_enter} per loop iteration then both submits and waits.
 * The system property {@value #OWN_RING_PROPERTY}{@code =true} gives it a ring of its own instead (for comparison
 * and diagnosis).
 *
 * <p>The native engine is the loop's sleep when the monitor is io_uring ({@link AioContext#canSleepElsewhere()}): it
 * opens {@linkplain LinuxAioEngine#openUnsignalled() unsignalled}, and while its requests are in flight the loop
 * sleeps in its {@code io_getevents}, woken by the completion itself as fio's libaio engine is
 * ({@link NativeEngineSleeper}); it signals its eventfd only while the loop busy-polls it. The system property
 * {@value #NATIVE_SIGNALS_PROPERTY}{@code =true} keeps the eventfd and the monitor's wait instead (QEMU's shape, for
 * comparison).
 *
 * <p>Threads: the home thread of the context only: engines have one owner thread, and it is this one.
 */
final class ContextEngines {
    private static final ContextLocal<ContextEngines> LOCAL =
            ContextLocal.of("file-engines", ContextEngines::new, ContextEngines::close);
    private static final Runnable NOTHING = () -> {
    };
    static final String OWN_RING_PROPERTY = "blockloop.io_uring.ownRing";
    static final String NATIVE_SIGNALS_PROPERTY = "blockloop.native.eventFd";
    /** Nanoseconds a finishing pool worker may spin for the next request; 0 parks at once, as QEMU's pool does. */
    static final String POOL_SPIN_PROPERTY = "blockloop.threads.maxSpinNs";

    private final AioContext ctx;
    private IoUringEngine ioUring;
    private LinuxAioEngine linuxAio;
    private ThreadPoolEngine threads;

    private ContextEngines(AioContext ctx) {
        this.ctx = ctx;
    }

    /** The engines of {@code ctx}. Home thread of {@code ctx}. */
    static ContextEngines of(AioContext ctx) {
        return LOCAL.get(ctx);
    }

    /** The engine for {@code mode} (not AUTO), opened and plugged in on first use. */
    IoEngine engine(AioMode mode) {
        return switch (mode) {
            case IO_URING -> ioUring != null ? ioUring : (ioUring = plugIn(openIoUring()));
            case NATIVE -> linuxAio != null ? linuxAio : (linuxAio = openLinuxAio());
            case THREADS -> threadPool();
            case AUTO -> throw new IllegalArgumentException("resolve aio=auto before asking for an engine");
        };
    }

    private LinuxAioEngine openLinuxAio() {
        if (!ctx.canSleepElsewhere() || Boolean.getBoolean(NATIVE_SIGNALS_PROPERTY)) {
            return plugIn(LinuxAioEngine.open());
        }
        LinuxAioEngine engine = plugIn(LinuxAioEngine.openUnsignalled());
        try {
            ctx.setSleeper(new NativeEngineSleeper(engine));
        } catch (RuntimeException | Error e) {
            ctx.removeFdHandler(engine.completionFd());
            engine.close();
            throw e;
        }
        return engine;
    }

    private IoUringEngine openIoUring() {
        if (ctx.canShareRing() && !Boolean.getBoolean(OWN_RING_PROPERTY)) {
            return IoUringEngine.openShared(ctx::shareRing);
        }
        return IoUringEngine.open();
    }

    /** The thread pool, which also runs the blocking calls (discard, write-zeroes) of every mode. */
    ThreadPoolEngine threadPool() {
        if (threads == null) {
            long spinNanos = Long.getLong(POOL_SPIN_PROPERTY, ThreadPoolEngine.DEFAULT_MAX_SPIN.toNanos());
            threads = plugIn(ThreadPoolEngine.open(Duration.ofNanos(spinNanos)));
        }
        return threads;
    }

    private <E extends IoEngine> E plugIn(E engine) {
        try {
            ctx.setFdHandler(engine.completionFd(), FdCallbacks.read(engine::processCompletions)
                    .withPoll(() -> engine.poll() > 0, NOTHING));
            return engine;
        } catch (RuntimeException | Error e) {
            engine.close();
            throw e;
        }
    }

    private void close() {
        for (IoEngine engine : new IoEngine[]{ioUring, linuxAio, threads}) {
            if (engine != null) {
                ctx.removeFdHandler(engine.completionFd());
                engine.close();
            }
        }
        ioUring = null;
        linuxAio = null;
        threads = null;
    }
}
