package io.blockloop.it;

import java.nio.file.Path;

/**
 * Settings the build passes to the container tests as system properties (see it-tests/pom.xml):
 * {@code blockloop.rootDir} (the repository root), {@code blockloop.baseImage} (the Dockerfile's BASE_IMAGE)
 * {@code blockloop.scratchDir} (where loop backing files go) and {@code blockloop.it.scratchDevice} (a disk to run
 * on instead of a loop device; empty for none).
 *
 * @param rootDir       repository root holding the Dockerfile and blockcore/target/blockloop.jar
 * @param baseImage     base image for the Dockerfile's {@code BASE_IMAGE} build arg
 * @param scratchDir    folder for loop backing files, on a file system that supports O_DIRECT
 * @param scratchDevice a real disk whose data the tests may overwrite ({@link ScratchDevice}), or null: the tests
 *                      then attach a loop device over a file in {@code scratchDir}
 */
record ItSettings(Path rootDir, String baseImage, Path scratchDir, Path scratchDevice) {

    static final String DEFAULT_BASE_IMAGE = "blockloop-base:local";

    /** Reads the settings; run outside Maven, the root defaults to the parent of the working directory. */
    static ItSettings fromSystemProperties() {
        Path root = Path.of(System.getProperty("blockloop.rootDir", "..")).toAbsolutePath().normalize();
        String base = System.getProperty("blockloop.baseImage", "");
        Path scratch = Path.of(System.getProperty("blockloop.scratchDir",
                root.resolve("it-tests/target/loop-backing").toString())).toAbsolutePath().normalize();
        String device = System.getProperty("blockloop.it.scratchDevice", "");
        return new ItSettings(root, base.isBlank() ? DEFAULT_BASE_IMAGE : base, scratch,
                device.isBlank() ? null : Path.of(device));
    }

    /** The device the container tests run against: the scratch device if one is given, else a new loop device. */
    DeviceUnderTest deviceUnderTest(long loopBytes) {
        return scratchDevice != null ? ScratchDevice.check(scratchDevice) : LoopDevice.attach(scratchDir, loopBytes);
    }
}
