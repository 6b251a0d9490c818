package io.blockloop.coroutine;

import io.blockloop.aio.IOThread;
import io.blockloop.aio.MainLoop;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A JVM started without {@value CoroutineSupport#JVM_OPTION} is told so at BlockLoop's first call, with the option
 * to add, and keeps nothing open. Before, {@code MainLoop.init}, an IOThread and {@code BlockBackend.open} all
 * succeeded, and the first request failed with an {@code IllegalAccessError} from deep inside the coroutine layer.
 */
class CoroutineSupportTest {

    @Test
    void theTestJvmHasTheExport() {
        assertTrue(CoroutineSupport.isAvailable());
        assertDoesNotThrow(CoroutineSupport::require);
    }

    @Test
    void withoutTheExportTheFirstCallNamesTheOptionAndLeaksNoFd() throws Exception {
        List<String> lines = runWithoutExport();
        String expected = "need the JVM option " + CoroutineSupport.JVM_OPTION;
        assertEquals(List.of("available=false", "MainLoop.init: IllegalStateException: " + expected,
                "IOThread.start: IllegalStateException: " + expected, "Coroutine.create: IllegalStateException: "
                        + expected, "fds unchanged=true"), lines);
    }

    private static List<String> runWithoutExport() throws IOException, InterruptedException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        // No --add-exports: the point of the test. Native access stays enabled, only to keep the output clean.
        Path output = Files.createTempFile("without-export", ".txt");
        try {
            Process p = new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED",
                    "-cp", System.getProperty("java.class.path"), WithoutExport.class.getName())
                    .redirectErrorStream(true).redirectOutput(output.toFile()).start();
            boolean ended = p.waitFor(60, TimeUnit.SECONDS);
            if (!ended) {
                p.destroyForcibly().waitFor();
            }
            String out = Files.readString(output, StandardCharsets.UTF_8);
            assertTrue(ended, "child JVM timed out: " + out);
            assertEquals(0, p.exitValue(), out);
            assertFalse(out.contains("IllegalAccessError"), out);
            return out.lines().toList();
        } finally {
            Files.delete(output);
        }
    }

    /**
     * Child-JVM main: tries BlockLoop's three entry points and prints, for each, the exception's class and the part
     * of its message from "need" on (an accepted call is printed every time); then whether five more rounds of the
     * same left its open fds as they were.
     */
    static final class WithoutExport {
        public static void main(String[] args) throws IOException {
            System.out.println("available=" + CoroutineSupport.isAvailable());
            attemptAll(true);
            // The first round loaded classes, and with them jar files the JVM keeps open; a leak would show as
            // growth from one round to the next.
            long fdsBefore = openFds();
            for (int i = 0; i < 5; i++) {
                attemptAll(false);
            }
            System.out.println("fds unchanged=" + (openFds() == fdsBefore));
        }

        private static void attemptAll(boolean print) {
            // What is accepted is closed again, so that the JVM can end and report it.
            attempt("MainLoop.init", () -> MainLoop.init().close(), print);
            attempt("IOThread.start", () -> new IOThread("refused").start().close(), print);
            attempt("Coroutine.create", () -> Coroutine.create(() -> { }), print);
        }

        private static void attempt(String what, Runnable call, boolean print) {
            try {
                call.run();
                System.out.println(what + ": accepted");
            } catch (RuntimeException e) {
                // IOThread.start wraps the context's failure: report the cause, which says what to do.
                Throwable reason = e.getCause() != null ? e.getCause() : e;
                String message = String.valueOf(reason.getMessage());
                int need = message.indexOf("need the JVM option");
                if (!print) {
                    return;
                }
                System.out.println(what + ": " + reason.getClass().getSimpleName() + ": "
                        + (need < 0 ? message : message.substring(need, need + "need the JVM option ".length()
                        + CoroutineSupport.JVM_OPTION.length())));
            }
        }

        private static long openFds() throws IOException {
            try (var fds = Files.list(Path.of("/proc/self/fd"))) {
                return fds.count();
            }
        }
    }
}
