package io.blockloop.engine;

import io.blockloop.ffm.libc.FileIo;
import io.blockloop.ffm.libc.OpenFlags;
import io.blockloop.ffm.testing.LoopDevice;

import java.io.IOException;
import java.nio.file.Path;

/**
 * Where a test does its I/O: an {@code O_DIRECT} file in a JUnit temp dir (ext4 here) or a loop block device
 * (direct I/O on) over a sparse file in the same dir.
 */
final class Target implements AutoCloseable {
    enum Kind { FILE, LOOP_DEVICE }

    private final Kind kind;
    private final Path path;
    private final LoopDevice loop;
    private final long size;
    private final int fd;

    private Target(Kind kind, Path path, LoopDevice loop, long size, int fd) {
        this.kind = kind;
        this.path = path;
        this.loop = loop;
        this.size = size;
        this.fd = fd;
    }

    static Target create(Kind kind, Path dir, long size) throws IOException, InterruptedException {
        Path backing = dir.resolve(kind == Kind.FILE ? "target.img" : "loop-backing.img");
        int bfd = FileIo.open(backing.toString(), OpenFlags.O_RDWR | OpenFlags.O_CREAT | OpenFlags.O_CLOEXEC, 0644);
        try {
            FileIo.ftruncate(bfd, size);
        } finally {
            FileIo.close(bfd);
        }
        if (kind == Kind.FILE) {
            int fd = FileIo.open(backing.toString(), OpenFlags.O_RDWR | OpenFlags.O_DIRECT | OpenFlags.O_CLOEXEC, 0);
            return new Target(kind, backing, null, size, fd);
        }
        LoopDevice loop = LoopDevice.attach(backing);
        try {
            int fd = FileIo.open(loop.path().toString(), OpenFlags.O_RDWR | OpenFlags.O_DIRECT | OpenFlags.O_CLOEXEC, 0);
            return new Target(kind, loop.path(), loop, size, fd);
        } catch (RuntimeException e) {
            loop.close();
            throw e;
        }
    }

    Kind kind() {
        return kind;
    }

    Path path() {
        return path;
    }

    int fd() {
        return fd;
    }

    long size() {
        return size;
    }

    /** For failure messages: the path, and for a loop device whether it is read-only now (writes fail with EPERM). */
    String describe() {
        if (loop == null) {
            return path.toString();
        }
        try {
            return path + (loop.isReadOnly() ? " (read-only now)" : " (writable)");
        } catch (IOException e) {
            return path + " (read-only state unknown: " + e.getMessage() + ")";
        }
    }

    /** Closes the fd and detaches the loop device (an interrupt while losetup runs becomes an IOException). */
    @Override
    public void close() throws IOException {
        FileIo.close(fd);
        if (loop != null) {
            try {
                loop.close();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while detaching " + path, e);
            }
        }
    }
}
