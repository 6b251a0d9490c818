package io.blockloop.engine;

/** Reads the engines' package-private test statistics through the sealed hierarchy. */
final class Stats {
    private Stats() {
    }

    /** How often requests had to wait in the engine because the kernel or the workers were full. */
    static long backlog(IoEngine engine) {
        return switch (engine) {
            case LinuxAioEngine aio -> aio.backlogCount;
            case IoUringEngine uring -> uring.backlogCount;
            case ThreadPoolEngine pool -> pool.backlogCount;
        };
    }
}
