package io.blockloop.engine;

import java.time.Duration;

/**
 * The engine configurations the parameterized tests run against. Rings and pools are deliberately small, smaller
 * than the tests' queue depths, so the engines' backlog (pending queue) paths run.
 */
enum EngineUnderTest {
    /** linux-aio reaping from the shared aio_ring; 64 in flight. */
    LINUX_AIO {
        @Override
        IoEngine open() {
            return LinuxAioEngine.open(64, 16);
        }
    },
    /** linux-aio reaping with io_getevents only. */
    LINUX_AIO_GETEVENTS {
        @Override
        IoEngine open() {
            return LinuxAioEngine.open(64, 16, false);
        }
    },
    /** io_uring with a 32-entry SQ (64 CQEs, so at most 64 in flight). */
    IO_URING {
        @Override
        IoEngine open() {
            return IoUringEngine.open(32);
        }
    },
    /** The thread pool with QEMU's limits (up to 64 workers). */
    THREADS {
        @Override
        IoEngine open() {
            return ThreadPoolEngine.open(0, 64, Duration.ofSeconds(10));
        }
    };

    abstract IoEngine open();
}
