package io.blockloop.engine;

/** Reads the engines' package-private test statistics through the sealed hierarchy. */
final class Stats {
    private Stats() {
    }

    /** How often requests had to wait in the engine because its own in-flight limit or the workers were full. */
    static long backlog(IoEngine engine) {
        return switch (engine) {
            case LinuxAioEngine aio -> aio.backlogCount;
            case IoUringEngine uring -> uring.backlogCount;
            case ThreadPoolEngine pool -> pool.backlogCount;
        };
    }

    /**
     * How often the kernel refused more requests for now ({@code EAGAIN}/{@code EBUSY}, or no free SQE on a shared
     * ring), so that they waited in the engine; the pool has no such refusal.
     */
    static long kernelRefusals(IoEngine engine) {
        return switch (engine) {
            case LinuxAioEngine aio -> aio.eagainCount;
            case IoUringEngine uring -> uring.eagainCount;
            case ThreadPoolEngine pool -> 0;
        };
    }
}
