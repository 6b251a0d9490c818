package io.blockloop.it;

import com.github.dockerjava.api.exception.NotFoundException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.UUID;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.images.builder.ImageFromDockerfile;

/**
 * The BlockLoop image under test, built from the repository's {@code Dockerfile} with Testcontainers.
 *
 * <p>The build context holds exactly two files, the {@code Dockerfile} and
 * {@code blockcore/target/blockloop.jar}; the base image comes from the {@code BASE_IMAGE} build arg.
 * Each build gets a unique tag, and {@link #close()} removes it (Testcontainers' own reaper is disabled
 * on the test machine); a test JVM killed before that leaves it to {@code bin/run-tests}, which finds its run's
 * images by the tag.
 *
 * <p>Threading: confined to the test thread that built it.
 */
final class BlockloopImage implements AutoCloseable {

    static final String JAR_IN_REPO = "blockcore/target/blockloop.jar";

    private final String name;
    private boolean closed;

    private BlockloopImage(String name) {
        this.name = name;
    }

    /**
     * Builds the image from {@code rootDir/Dockerfile} over {@code baseImage}. Fails with a clear message when
     * the Docker engine, the base image or the runnable jar is missing.
     */
    static BlockloopImage build(Path rootDir, String baseImage) {
        Path dockerfile = rootDir.resolve("Dockerfile");
        Path jar = rootDir.resolve(JAR_IN_REPO);
        if (!Files.isRegularFile(dockerfile)) {
            throw new AssertionError("no Dockerfile at " + dockerfile);
        }
        if (!Files.isRegularFile(jar)) {
            throw new AssertionError("the runnable jar " + jar + " does not exist: build blockcore first "
                    + "(./mvnw -pl it-tests -am verify builds it in the same reactor)");
        }
        DockerPreconditions.requireImage(baseImage);
        String name = "blockloop-it:" + runPrefix() + UUID.randomUUID().toString().toLowerCase(Locale.ROOT)
                .substring(0, 12);
        try {
            String built = new ImageFromDockerfile(name, false)
                    .withFileFromPath("Dockerfile", dockerfile)
                    .withFileFromPath(JAR_IN_REPO, jar)
                    .withBuildArg("BASE_IMAGE", baseImage)
                    .get();
            return new BlockloopImage(built);
        } catch (RuntimeException e) {
            removeQuietly(name);
            throw new AssertionError("building " + name + " from " + dockerfile + " (BASE_IMAGE=" + baseImage
                    + ") failed: " + e, e);
        }
    }

    /**
     * {@code "run-ID-"} when {@code bin/run-tests} names its run in {@code BLOCKLOOP_IT_RUN} (lower-case letters and
     * digits), else empty: the script removes its run's images when the tests were killed before {@link #close()}.
     */
    private static String runPrefix() {
        String run = System.getenv("BLOCKLOOP_IT_RUN");
        return run != null && run.matches("[a-z0-9]{1,32}") ? "run-" + run + "-" : "";
    }

    /** The image's name:tag, for {@code new GenericContainer<>(...)}. */
    String name() {
        return name;
    }

    /** Removes the image (forced, so a leftover stopped container cannot keep it alive). */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            DockerClientFactory.lazyClient().removeImageCmd(name).withForce(true).exec();
        } catch (NotFoundException alreadyGone) {
            // nothing to clean up
        }
    }

    private static void removeQuietly(String name) {
        try {
            DockerClientFactory.lazyClient().removeImageCmd(name).withForce(true).exec();
        } catch (RuntimeException ignored) {
            // the build failed before tagging: nothing to remove
        }
    }

    @Override
    public String toString() {
        return name;
    }
}
