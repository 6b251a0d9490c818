package io.blockloop.block.file;

import io.blockloop.aio.LoopSleeper;
import io.blockloop.engine.LinuxAioEngine;

/**
 * The native engine as the place its context's loop sleeps ({@link io.blockloop.aio.AioContext#setSleeper}): an
 * engine opened {@linkplain LinuxAioEngine#openUnsignalled() unsignalled}, whose completions wake the loop's
 * {@code io_getevents} directly, and which signals its eventfd only while the loop busy-polls it
 * ({@link #setBusyPolled}). Threads: the context's home thread, the engine's owner.
 */
final class NativeEngineSleeper implements LoopSleeper {
    private final LinuxAioEngine engine;

    NativeEngineSleeper(LinuxAioEngine engine) {
        if (engine.signalsKernelCompletions()) {
            throw new IllegalArgumentException("the loop may sleep only in an engine opened with LinuxAioEngine.openUnsignalled");
        }
        this.engine = engine;
    }

    @Override
    public int completionFd() {
        return engine.completionFd();
    }

    @Override
    public boolean canSleep() {
        return engine.canSleep();
    }

    @Override
    public int sleep(int readinessFd, long timeoutNs) {
        return engine.awaitCompletionsOrReadable(readinessFd, timeoutNs);
    }

    @Override
    public int poll() {
        return engine.poll();
    }

    @Override
    public void setBusyPolled(boolean busyPolled) {
        if (busyPolled != engine.signalsKernelCompletions()) {
            engine.setSignalling(busyPolled);
        }
    }

    @Override
    public String toString() {
        return "the loop's sleep in " + engine;
    }
}
