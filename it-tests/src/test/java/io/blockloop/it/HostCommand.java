package io.blockloop.it;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Runs a command on the test host (not in a container) and captures its output.
 *
 * <p>Threading: stateless; any thread. Each call blocks until the command exits or its timeout passes
 * (then the process is destroyed and an {@link AssertionError} names the command).
 */
final class HostCommand {

    /** Where administration tools live even when the test JVM's PATH lacks the sbin folders. */
    private static final List<String> SBIN_DIRS = List.of("/usr/local/sbin", "/usr/sbin", "/sbin");

    private HostCommand() {}

    /** Outcome of one command: its exit code and both output streams (UTF-8). */
    record Result(List<String> command, int exitCode, String stdout, String stderr) {
        /** Returns this result when the exit code is 0; otherwise fails with the command and its stderr. */
        Result requireSuccess() {
            if (exitCode != 0) {
                throw new AssertionError("host command failed (exit " + exitCode + "): " + String.join(" ", command)
                        + "\nstderr: " + stderr.strip() + "\nstdout: " + stdout.strip());
            }
            return this;
        }
    }

    /**
     * Returns the absolute path of {@code tool}, searched on PATH and the sbin folders, or fails with a
     * message naming the Debian package that provides it. A missing tool is a failure, never a skip.
     */
    static Path requireTool(String tool, String debianPackage) {
        Set<String> dirs = new LinkedHashSet<>();
        String path = System.getenv("PATH");
        if (path != null) {
            dirs.addAll(List.of(path.split(":")));
        }
        dirs.addAll(SBIN_DIRS);
        for (String dir : dirs) {
            if (dir.isEmpty()) {
                continue;
            }
            Path candidate = Path.of(dir, tool);
            if (Files.isRegularFile(candidate) && Files.isExecutable(candidate)) {
                return candidate;
            }
        }
        throw new AssertionError("'" + tool + "' is not installed on this host (Debian package " + debianPackage
                + "); the container tests need it. bin/run-tests installs everything they need.");
    }

    /** Runs {@code command} and waits at most {@code timeout} for it to exit. */
    static Result run(Duration timeout, String... command) {
        List<String> argv = List.of(command);
        Process process;
        try {
            process = new ProcessBuilder(new ArrayList<>(argv)).redirectInput(ProcessBuilder.Redirect.PIPE).start();
        } catch (IOException e) {
            throw new AssertionError("cannot start host command: " + String.join(" ", argv) + ": " + e.getMessage(), e);
        }
        try {
            process.getOutputStream().close(); // no stdin: commands must never wait for input
            CompletableFuture<String> out = drain(process.getInputStream());
            CompletableFuture<String> err = drain(process.getErrorStream());
            if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                process.destroyForcibly();
                throw new AssertionError("host command did not finish within " + timeout + ": " + String.join(" ", argv));
            }
            return new Result(argv, process.exitValue(), out.join(), err.join());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
            throw new AssertionError("interrupted while running: " + String.join(" ", argv), e);
        }
    }

    private static CompletableFuture<String> drain(InputStream stream) {
        return CompletableFuture.supplyAsync(() -> {
            try (stream) {
                return new String(stream.readAllBytes(), StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
    }
}
