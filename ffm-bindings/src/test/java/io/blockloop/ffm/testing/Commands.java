package io.blockloop.ffm.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Runs a host command for a test and returns its standard output; a failure throws with its stderr, and a command
 * still running after 60 s is killed and throws. Both output streams are read on threads of their own while the
 * caller waits: read first on the caller's thread, as before, a command that hung kept the caller (and the test
 * run) waiting for ever, the timeout never reached. Any thread.
 */
public final class Commands {
    private static final long TIMEOUT_SECONDS = 60;

    private Commands() {
    }

    public static String run(String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(List.of(command)).redirectErrorStream(false).start();
        CompletableFuture<byte[]> out = drain(p.getInputStream());
        CompletableFuture<byte[]> err = drain(p.getErrorStream());
        if (!p.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException(String.join(" ", command) + ": timed out after " + TIMEOUT_SECONDS + " s");
        }
        if (p.exitValue() != 0) {
            throw new IOException(String.join(" ", command) + ": exit " + p.exitValue() + ": "
                    + new String(collect(err), StandardCharsets.UTF_8).trim());
        }
        return new String(collect(out), StandardCharsets.UTF_8);
    }

    private static CompletableFuture<byte[]> drain(InputStream stream) {
        return CompletableFuture.supplyAsync(() -> {
            try (stream) {
                return stream.readAllBytes();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }, runnable -> Thread.ofPlatform().daemon().name("command-output").start(runnable));
    }

    /** What a drained stream held; the command has exited, so its end comes soon (a child it forked aside). */
    private static byte[] collect(CompletableFuture<byte[]> drained) throws IOException, InterruptedException {
        try {
            return drained.get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            throw new IOException("reading a command's output", e.getCause());
        } catch (TimeoutException e) {
            throw new IOException("a command's output did not end after the command exited", e);
        }
    }
}
