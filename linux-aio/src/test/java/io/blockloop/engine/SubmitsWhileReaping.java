package io.blockloop.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The check shared by the engines that hand the handlers' requests to the kernel every few while reaping
 * ({@link LinuxAioEngine#REAP_SUBMIT_BATCH}, {@link IoUringEngine#REAP_SUBMIT_BATCH}, own rings and the loop's):
 * one pass delivered {@code first} completions, and the handler of the i-th recorded the requests in the kernel
 * right after it submitted a new one. Threads: the test's (the engine's owner).
 */
final class SubmitsWhileReaping {
    private SubmitsWhileReaping() {
    }

    static void assertEvery(int batch, int first, int[] inKernelAfterSubmit, int inKernelAfterPass) {
        assertBatches(batch, first, inKernelAfterSubmit);
        assertEquals(first, inKernelAfterPass, "the pass's end submits the rest");
    }

    /** The batches alone, for a ring whose pass's end leaves the rest to the loop's next wait. */
    static void assertBatches(int batch, int first, int[] inKernelAfterSubmit) {
        assertEquals(first - batch + 1, inKernelAfterSubmit[batch - 2], "held until " + batch + " are queued");
        assertEquals(first, inKernelAfterSubmit[batch - 1], "the " + batch + "th goes out with the ones before it");
        int lastFull = first / batch * batch;
        assertEquals(first, inKernelAfterSubmit[lastFull - 1], "the last full batch goes out too");
    }
}
