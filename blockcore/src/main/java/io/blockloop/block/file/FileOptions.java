package io.blockloop.block.file;

import io.blockloop.block.CacheMode;

import java.util.Objects;

/**
 * How to open a {@code file} node.
 *
 * <p>Immutable value; any thread.
 *
 * @param path       a regular file or a block device
 * @param cache      {@link CacheMode#direct()} decides {@code O_DIRECT}
 * @param aio        the engine; unavailable engines fall back to threads with a warning
 * @param readOnly   open {@code O_RDONLY}
 * @param locking    take OFD image locks (QEMU's {@code locking=on})
 * @param forceShare read-only users only: share every permission (QEMU's {@code -U})
 */
public record FileOptions(String path, CacheMode cache, AioMode aio, boolean readOnly, boolean locking,
                          boolean forceShare) {
    public FileOptions {
        Objects.requireNonNull(path, "path");
        Objects.requireNonNull(cache, "cache");
        Objects.requireNonNull(aio, "aio");
        if (forceShare && !readOnly) {
            throw new IllegalArgumentException("force-share (-U) needs a read-only image (-r)");
        }
    }

    /** {@code path} with BlockLoop's defaults: {@code cache=none}, {@code aio=auto}, read-write, locking on. */
    public static FileOptions of(String path) {
        return new FileOptions(path, CacheMode.NONE, AioMode.AUTO, false, true, false);
    }

    public FileOptions withCache(CacheMode mode) {
        return new FileOptions(path, mode, aio, readOnly, locking, forceShare);
    }

    public FileOptions withAio(AioMode mode) {
        return new FileOptions(path, cache, mode, readOnly, locking, forceShare);
    }

    public FileOptions withReadOnly(boolean value) {
        return new FileOptions(path, cache, aio, value, locking, forceShare);
    }

    public FileOptions withLocking(boolean value) {
        return new FileOptions(path, cache, aio, readOnly, value, forceShare);
    }

    public FileOptions withForceShare(boolean value) {
        return new FileOptions(path, cache, aio, readOnly, locking, value);
    }
}
