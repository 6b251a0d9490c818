package io.blockloop.engine;

import java.lang.foreign.MemorySegment;
import java.time.Duration;

/**
 * An asynchronous block I/O engine: the part of QEMU's {@code LinuxAioState}, {@code LuringState} and
 * {@code ThreadPoolAio} that moves requests to the kernel and brings their results back. Engines know nothing of
 * an event loop; a loop plugs one in by watching {@link #completionFd()} (readable when completions may be
 * waiting) and calling {@link #processCompletions()}, and may busy-poll with {@link #poll()}.
 *
 * <h2>Threads</h2>
 * Every method except {@link #close()} is called by the engine's <em>owner thread</em>: the first thread that
 * submits, plugs or reaps (in BlockLoop, the home thread of one {@code AioContext}). The engine keeps no lock on
 * that path; every other thread is refused with {@link IllegalStateException} (with or without {@code -ea}). {@link #close()} is called by the owner,
 * or by another thread once the owner has stopped using the engine and the caller has ordered the two (for
 * example by joining the owner thread). {@link CompletionHandler}s run on the thread that reaps.
 *
 * <h2>Requests</h2>
 * <ul>
 *   <li>Buffers and iovec arrays are native memory owned by the caller; they must stay alive and untouched until
 *       the request's completion has been delivered (the kernel or a worker reads or writes them meanwhile).
 *       Submission refuses a read into a read-only segment ({@link IllegalArgumentException}) and a buffer or
 *       iovec array whose arena is closed ({@link IllegalStateException}); a segment confined to another thread
 *       is accepted (its owner may be the thread waiting for the request). The
 *       memory an iovec points to is bare addresses that nothing can check: if the caller frees it before the
 *       completion, the request fails with {@code -EFAULT} (the kernel's answer, and the engine's when it
 *       zero-fills a read's tail), or the kernel writes wherever the freed addresses now lead.</li>
 *   <li>A read delivers the full requested length: a read that ends at or crosses the end of the file gets the
 *       missing tail zero-filled (QEMU's rule). A write that the kernel completes short fails with
 *       {@code -ENOSPC}. A flush delivers 0. Failures deliver a negative errno to the request that caused them;
 *       the other requests are unaffected.</li>
 *   <li>{@link #FUA} on a write makes it durable when it completes ({@code RWF_DSYNC}).</li>
 *   <li>Each submitting method returns a request id for {@link #cancel(long)}; ids are never reused while the
 *       request is outstanding.</li>
 *   <li>Nothing is dropped: when the kernel is full or answers {@code EAGAIN}, requests stay queued in the engine
 *       and go out as completions make room.</li>
 * </ul>
 *
 * <h2>Batching</h2>
 * Outside a {@link #plug()}/{@link #unplug()} section a request goes to the kernel at once. Inside one, requests
 * are queued and handed over together when the outermost section ends, or earlier when the engine's batch is full
 * (QEMU's {@code defer_call_begin/end}). Reaping runs inside such a section, so requests submitted by handlers
 * leave together; linux-aio's batch is smaller while reaping ({@code REAP_SUBMIT_BATCH}), so that a long reaping
 * pass does not starve the device of the requests its handlers submit.
 *
 * <h2>Reaping inside handlers</h2>
 * A {@link CompletionHandler} may submit and may reap again ({@link #poll()}, {@link #processCompletions()},
 * {@link #awaitCompletions}): the calls nest, and no completion is delivered twice. Nesting is bounded at 32
 * calls ({@code CompletionDelivery.MAX_REAP_DEPTH}): a reaping call nested deeper returns 0 at once and leaves the
 * completions (and the completion fd's readiness) to the calls below it or the next reaping call. A kernel that
 * completes requests as they are submitted would otherwise let a chain of handlers that submit and reap again
 * recurse once per request, until the thread's stack overflowed.
 *
 * <h2>Memory ordering</h2>
 * What the caller stores into a write buffer (or iovec array) before the submitting call is what the kernel or a
 * worker reads: the submitting system call, or the pool lock, orders it. What the kernel or a worker stores into
 * a read buffer is visible to the handler: the engine reads the completion through an acquire (the rings' tail
 * loads, the pool's done-stack {@code getAndSet}) or a system call before it calls the handler. Each engine
 * documents its own barriers.
 *
 * <h2>Memory</h2>
 * In steady state no method allocates: request slots, their native control blocks and iovec scratch arrays are
 * pooled per engine and grow only when more requests are outstanding than ever before. {@link #close()} returns
 * every file descriptor, ring and byte of native memory ({@link EngineMemory#liveBytes()}).
 */
public sealed interface IoEngine extends AutoCloseable permits LinuxAioEngine, IoUringEngine, ThreadPoolEngine {
    /** Write flag: force unit access; the data is durable when the write completes ({@code RWF_DSYNC}). */
    int FUA = 1;

    /** Largest byte count of one request: the kernel's {@code MAX_RW_COUNT} ({@code INT_MAX & PAGE_MASK}). */
    long MAX_TRANSFER = 0x7ffff000L;

    /** Most iovec elements in one vectored request ({@code IOV_MAX}). */
    int MAX_IOV = 1024;

    /**
     * The default longest spin of an owner in {@link #awaitCompletions} for the completion of its only request
     * ({@code CompletionSpin}), and of a pool worker for the next request; each engine's {@code open} takes another.
     */
    Duration DEFAULT_MAX_SPIN = Duration.ofNanos(50_000);

    /** The engine's short name: {@code "linux-aio"}, {@code "io_uring"} or {@code "threads"}. */
    String name();

    /** Reads {@code buffer.byteSize()} bytes at {@code offset} into the native {@code buffer}. Owner thread. */
    long read(int fd, MemorySegment buffer, long offset, CompletionHandler handler, long tag);

    /** Writes the native {@code buffer} at {@code offset}; {@code flags} is 0 or {@link #FUA}. Owner thread. */
    long write(int fd, MemorySegment buffer, long offset, int flags, CompletionHandler handler, long tag);

    /**
     * Reads into {@code iovCount} buffers described by the native {@code struct iovec} array {@code iov} (see
     * {@code io.blockloop.ffm.libc.IoVec}). The array and the buffers belong to the caller until completion.
     * Owner thread.
     */
    long readv(int fd, MemorySegment iov, int iovCount, long offset, CompletionHandler handler, long tag);

    /** Vectored write; {@code flags} is 0 or {@link #FUA}. Owner thread. */
    long writev(int fd, MemorySegment iov, int iovCount, long offset, int flags, CompletionHandler handler, long tag);

    /** {@code fsync(fd)}: data and metadata. Owner thread. */
    long fsync(int fd, CompletionHandler handler, long tag);

    /** {@code fdatasync(fd)}: data and the metadata needed to read it. Owner thread. */
    long fdatasync(int fd, CompletionHandler handler, long tag);

    /**
     * Cancels {@code request} if it has not started: it has not yet been handed to the kernel or to a worker. A
     * cancelled request completes with {@code -ECANCELED} from the next reaping call (never from inside
     * {@code cancel}). Returns false when the request has started (it finishes normally) or is already complete.
     * Owner thread.
     */
    boolean cancel(long request);

    /**
     * Tells the engine that {@code buffer} will carry many requests (QEMU's {@code blk_register_buf}). An engine
     * that can pin it once does, and requests whose data lies inside it then skip pinning the user's pages
     * (io_uring's fixed buffers); the others answer false and change nothing. Returns whether the engine took it.
     * The memory must stay allocated until {@link #unregisterBuffer} or {@link #close()}. Owner thread.
     */
    default boolean registerBuffer(MemorySegment buffer) {
        return false;
    }

    /** Undoes {@link #registerBuffer}; false if the buffer was not registered. Owner thread. */
    default boolean unregisterBuffer(MemorySegment buffer) {
        return false;
    }

    /** Opens a batching section (sections nest). Owner thread. */
    void plug();

    /** Closes a batching section; the outermost one hands the queued requests to the kernel. Owner thread. */
    void unplug();

    /**
     * The file descriptor to watch for {@code POLLIN}: readable whenever completions may be waiting. Spurious
     * readiness is possible; {@link #processCompletions()} resets it. Any thread may read the number.
     *
     * @throws IllegalStateException once the engine is closed: the fd is closed, and its number may already belong
     *                               to another file, which a handler registered for it would watch
     */
    int completionFd();

    /**
     * Reaps and delivers the completions that are ready, without a system call to find them (busy polling), then
     * hands queued requests to the kernel. Returns the number delivered. Owner thread.
     *
     * <p>Every reaping call is bounded: it delivers what was ready when it looked. Completions that arrive while
     * it runs (for example of requests its handlers submitted) wait for the next call, and the completion fd stays
     * readable for them; so a handler that keeps resubmitting cannot keep one call, and the loop, busy forever.
     */
    int poll();

    /**
     * Resets {@link #completionFd()}, then reaps and delivers the completions ready at that point and hands queued
     * requests to the kernel. The handler of a readable completion fd. Returns the number delivered. Owner thread.
     */
    int processCompletions();

    /**
     * Blocks until at least one completion has been delivered or {@code timeoutNanos} passed ({@code < 0}: no
     * limit), for callers without an event loop (tests, benchmarks, {@link #close()}). Returns the number
     * delivered; 0 at once when nothing is outstanding, or when nested too deep in handlers (see the class
     * comment). Before it blocks it hands over the requests a batch holds back, those of an open {@link #plug()} or
     * of the handlers of the reaping call it is nested in: waiting for them while holding them would only wait out
     * the timeout. With one request in flight an engine may spin briefly before it sleeps (up to its
     * {@code maxSpin}, {@code CompletionSpin}). Owner thread.
     */
    int awaitCompletions(long timeoutNanos);

    /** Requests accepted and not yet delivered (queued, in the kernel, or done but not reaped). Owner thread. */
    int outstanding();

    /**
     * Cancels queued requests ({@code -ECANCELED}), waits for the ones the kernel or a worker already has, delivers
     * every completion, then releases the completion fd, the kernel context and all native memory. Submitting and
     * reaping ({@link #poll()}, {@link #processCompletions()}, {@link #awaitCompletions}) afterwards throw
     * {@link IllegalStateException}. Idempotent.
     *
     * @throws IllegalStateException when called from a completion handler while the engine is open (a reaping call
     *         is still walking what close would release); the engine stays open and whole, and the exception
     *         reaches the caller of the reaping call, as any handler's does
     */
    @Override
    void close();
}
