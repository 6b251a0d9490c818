package io.blockloop.engine;

import java.lang.foreign.MemorySegment;

/**
 * The submission side every engine shares: turns one submitting call of {@link IoEngine} into a filled request
 * slot. In this order: checks the arguments ({@link IllegalArgumentException}), that the caller is the owner thread
 * ({@link OwnerThread#check()}) and that the engine is open ({@link IllegalStateException}), then takes a slot
 * from the pool (state {@link Request#QUEUED}) and fills it; what happens to it next is the engine's business.
 *
 * <p>Threads: the engine's owner thread; {@link #close()} also from the closer after the owner stopped (see
 * {@link IoEngine#close()}). No locks. {@code released} is volatile, since {@link IoEngine#completionFd()} checks it
 * from any thread: the closer's store pairs with that load (a plain load on x86, so the owner's reaping calls pay
 * nothing for it).
 */
final class RequestAdmission {
    private final String engineName;
    private final OwnerThread owner;
    private final RequestPool pool;
    private boolean closed;
    private volatile boolean released;

    RequestAdmission(String engineName, OwnerThread owner, RequestPool pool) {
        this.engineName = engineName;
        this.owner = owner;
        this.pool = pool;
    }

    Request read(int fd, MemorySegment buffer, long offset, CompletionHandler handler, long tag) {
        Request.checkLinear(buffer, offset, 0, true);
        Request r = admitPinning(buffer, handler, tag);
        r.prepareLinear(Request.OP_READ, fd, buffer, offset, 0);
        return r;
    }

    Request write(int fd, MemorySegment buffer, long offset, int flags, CompletionHandler handler, long tag) {
        Request.checkLinear(buffer, offset, flags, false);
        Request r = admitPinning(buffer, handler, tag);
        r.prepareLinear(Request.OP_WRITE, fd, buffer, offset, flags);
        return r;
    }

    Request readv(int fd, MemorySegment iov, int iovCount, long offset, CompletionHandler handler, long tag) {
        long length = Request.checkVectored(iov, iovCount, offset, 0);
        Request r = admitPinning(iov, handler, tag);
        r.prepareVectored(Request.OP_READV, fd, iov, iovCount, length, offset, 0);
        return r;
    }

    Request writev(int fd, MemorySegment iov, int iovCount, long offset, int flags, CompletionHandler handler,
                   long tag) {
        long length = Request.checkVectored(iov, iovCount, offset, flags);
        Request r = admitPinning(iov, handler, tag);
        r.prepareVectored(Request.OP_WRITEV, fd, iov, iovCount, length, offset, flags);
        return r;
    }

    /** {@code op} is {@link Request#OP_FSYNC} or {@link Request#OP_FDATASYNC}. */
    Request sync(byte op, int fd, CompletionHandler handler, long tag) {
        Request r = admit(handler, tag);
        r.prepareSync(op, fd);
        return r;
    }

    /** Thread pool only: a {@link BlockingCall}. */
    Request call(BlockingCall call, CompletionHandler handler, long tag) {
        if (call == null) {
            throw new NullPointerException("call");
        }
        Request r = admit(handler, tag);
        r.prepareCall(call);
        return r;
    }

    /** From now on every submission throws {@link IllegalStateException}. */
    void close() {
        closed = true;
    }

    boolean isClosed() {
        return closed;
    }

    /** Throws {@link IllegalStateException} once the engine is closed. */
    void checkOpen() {
        if (closed) {
            throw new IllegalStateException(engineName + " engine is closed");
        }
    }

    /** {@code close()} gave back the kernel context, the descriptors and the native memory. */
    void markReleased() {
        released = true;
    }

    /** Whether {@link #markReleased()} ran: the engine's ring, fds and native memory are gone. */
    boolean isReleased() {
        return released;
    }

    /**
     * For the reaping calls: throws {@link IllegalStateException} once {@code close()} released what they walk (an
     * unmapped {@code aio_ring} is a SIGSEGV; a completion fd number the process has reused is someone else's
     * file). While {@code close()} runs they still work, for a handler that reaps again.
     */
    void checkNotReleased() {
        if (released) {
            throw new IllegalStateException(engineName + " engine is closed");
        }
    }

    /**
     * {@link #admit}, then keeps {@code memory}'s arena open until the slot is released, after the request's last use
     * of it ({@link Request#pinArena}).
     */
    private Request admitPinning(MemorySegment memory, CompletionHandler handler, long tag) {
        Request r = admit(handler, tag);
        try {
            r.pinArena(memory);
        } catch (IllegalStateException closedSinceTheCheck) {
            pool.release(r);
            throw closedSinceTheCheck;
        }
        return r;
    }

    private Request admit(CompletionHandler handler, long tag) {
        owner.check();
        checkOpen();
        return pool.acquire(handler, tag);
    }
}
