package io.blockloop.block.backend;

import io.blockloop.block.file.FileOptions;

import java.util.Objects;

/**
 * What a {@link BlockBackend} opens: the node graph of one image.
 * <ul>
 *   <li>{@link Raw}: a {@code raw} format node over a {@code file} node (QEMU's default {@code -f raw}),
 *       optionally a window of the file;</li>
 *   <li>{@link File}: the {@code file} node alone ({@code -f file});</li>
 *   <li>{@link Null}: a {@code null} node of a given size ({@code -f null}).</li>
 * </ul>
 *
 * <p>Immutable values (records of immutable parts); any thread.
 */
public sealed interface ImageSpec permits ImageSpec.Raw, ImageSpec.File, ImageSpec.Null {

    /** Whether the image is opened read-only. */
    boolean readOnly();

    /** A raw image in {@code file}; {@code size < 0} means to the end of the file. Immutable; any thread. */
    record Raw(FileOptions file, long offset, long size) implements ImageSpec {
        public Raw {
            Objects.requireNonNull(file, "file");
        }

        public Raw(FileOptions file) {
            this(file, 0, -1);
        }

        @Override
        public boolean readOnly() {
            return file.readOnly();
        }
    }

    /** The protocol node alone. Immutable; any thread. */
    record File(FileOptions file) implements ImageSpec {
        public File {
            Objects.requireNonNull(file, "file");
        }

        @Override
        public boolean readOnly() {
            return file.readOnly();
        }
    }

    /** A null device; {@code readOnly} refuses writes, as for a file. Immutable; any thread. */
    record Null(long size, boolean readZeroes, boolean readOnly) implements ImageSpec {
        /** A writable null device. */
        public Null(long size, boolean readZeroes) {
            this(size, readZeroes, false);
        }
    }
}
