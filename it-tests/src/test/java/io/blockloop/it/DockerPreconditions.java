package io.blockloop.it;

import com.github.dockerjava.api.exception.NotFoundException;
import org.testcontainers.DockerClientFactory;

/**
 * Checks that the container tests can run at all, failing (never skipping) with a message that says how to
 * fix the host. A skipped container test would report a pass that nothing checked.
 *
 * <p>Threading: stateless; any thread.
 */
final class DockerPreconditions {

    private DockerPreconditions() {}

    /** Fails unless a Docker engine answers. */
    static void requireDocker() {
        try {
            DockerClientFactory.instance().client();
        } catch (RuntimeException | Error e) {
            throw new AssertionError("no Docker engine reachable from the tests (" + rootMessage(e) + "). "
                    + "Run bin/run-tests, which installs docker.io and starts dockerd; or start dockerd yourself.",
                    e);
        }
    }

    /** Fails unless {@code image} exists in the local engine (no registry is reachable on the test machine). */
    static void requireImage(String image) {
        requireDocker();
        try {
            DockerClientFactory.instance().client().inspectImageCmd(image).exec();
        } catch (NotFoundException e) {
            throw new AssertionError("base image " + image + " is not in the local Docker engine. "
                    + "Build it with bin/build-base-image (bin/run-tests does), or pass "
                    + "-Dblockloop.baseImage=<an image you have>.", e);
        }
    }

    private static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        return t == e ? String.valueOf(e.getMessage()) : e.getMessage() + "; cause: " + t;
    }
}
