package io.blockloop.it;

import java.nio.file.Path;

/**
 * Settings the build passes to the container tests as system properties (see it-tests/pom.xml):
 * {@code blockloop.rootDir} (the repository root), {@code blockloop.baseImage} (the Dockerfile's BASE_IMAGE)
 * and {@code blockloop.scratchDir} (where loop backing files go).
 *
 * @param rootDir    repository root holding the Dockerfile and blockcore/target/blockloop.jar
 * @param baseImage  base image for the Dockerfile's {@code BASE_IMAGE} build arg
 * @param scratchDir folder for loop backing files, on a file system that supports O_DIRECT
 */
record ItSettings(Path rootDir, String baseImage, Path scratchDir) {

    static final String DEFAULT_BASE_IMAGE = "blockloop-base:local";

    /** Reads the settings; run outside Maven, the root defaults to the parent of the working directory. */
    static ItSettings fromSystemProperties() {
        Path root = Path.of(System.getProperty("blockloop.rootDir", "..")).toAbsolutePath().normalize();
        String base = System.getProperty("blockloop.baseImage", "");
        Path scratch = Path.of(System.getProperty("blockloop.scratchDir",
                root.resolve("it-tests/target/loop-backing").toString())).toAbsolutePath().normalize();
        return new ItSettings(root, base.isBlank() ? DEFAULT_BASE_IMAGE : base, scratch);
    }
}
