package io.blockloop.fdmon;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Arrays;

/**
 * An fd-indexed table of nodes, for monitors whose kernel interface hands back an fd (epoll's {@code data}
 * word) rather than a pointer.
 *
 * <p>Threads: writers ({@link #put}, {@link #remove}, {@link #clear}) hold their monitor's lock; the reader
 * ({@link #getAcquire}) is the home thread and takes no lock. Memory ordering: an element is stored with a
 * release store and loaded with an acquire load, and a grown array is published with a release store of the
 * array reference that the reader loads with acquire, so the reader sees a complete node or null.
 */
final class NodesByFd {
    private static final VarHandle ELEMENT = MethodHandles.arrayElementVarHandle(FdNode[].class);
    private static final VarHandle TABLE;

    static {
        try {
            TABLE = MethodHandles.lookup().findVarHandle(NodesByFd.class, "table", FdNode[].class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    @SuppressWarnings("unused") // accessed through TABLE
    private FdNode[] table = new FdNode[64];

    /** The node registered for {@code fd}, or null. The home thread without the lock, or a writer holding it. */
    FdNode getAcquire(int fd) {
        FdNode[] t = (FdNode[]) TABLE.getAcquire(this);
        return fd < t.length ? (FdNode) ELEMENT.getAcquire(t, fd) : null;
    }

    /** Registers {@code node} under its fd. Caller holds the monitor's lock. */
    void put(FdNode node) {
        FdNode[] t = (FdNode[]) TABLE.getAcquire(this);
        int fd = node.fd();
        if (fd >= t.length) {
            FdNode[] grown = Arrays.copyOf(t, Math.max(t.length * 2, fd + 1));
            // Release pairs with the acquire of the table in getAcquire(): the copied elements are visible.
            TABLE.setRelease(this, grown);
            t = grown;
        }
        // Release pairs with the element acquire in getAcquire(): the node's fields are visible with it.
        ELEMENT.setRelease(t, fd, node);
    }

    /** Forgets {@code fd}. Caller holds the monitor's lock. */
    void remove(int fd) {
        FdNode[] t = (FdNode[]) TABLE.getAcquire(this);
        if (fd < t.length) {
            ELEMENT.setRelease(t, fd, null); // release, as in put(): pairs with the element acquire in getAcquire()
        }
    }

    /** Forgets every fd. Caller holds the monitor's lock. */
    void clear() {
        TABLE.setRelease(this, new FdNode[64]); // pairs with the table acquire in getAcquire()
    }
}
