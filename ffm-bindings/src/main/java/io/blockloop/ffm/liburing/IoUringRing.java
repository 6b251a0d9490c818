package io.blockloop.ffm.liburing;

import io.blockloop.ffm.errno.Errno;
import io.blockloop.ffm.errno.NativeCallException;
import io.blockloop.ffm.libc.ThreadId;
import io.blockloop.ffm.liburing.generated.LibUring;
import io.blockloop.ffm.liburing.generated.__kernel_timespec;
import io.blockloop.ffm.liburing.generated.io_uring;
import io.blockloop.ffm.liburing.generated.io_uring_cq;
import io.blockloop.ffm.liburing.generated.io_uring_cqe;
import io.blockloop.ffm.liburing.generated.io_uring_params;
import io.blockloop.ffm.liburing.generated.io_uring_sq;
import io.blockloop.ffm.liburing.generated.io_uring_sqe;
import io.blockloop.ffm.memory.SegmentBounds;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One io_uring instance: liburing 2.3 sets it up, registers resources and enters the kernel (its exported
 * functions, bound by jextract), while the {@code static inline} ring helpers of {@code liburing.h} are written
 * here in Java: getting an SQE, publishing the SQ tail, reading CQEs and advancing the CQ head.
 *
 * <h2>Threads</h2>
 * A ring has one <em>submitter thread</em> at a time, which calls every method except {@link #fd()} and the
 * immutable getters ({@link #sqEntries()}, {@link #cqEntries()}, {@link #features()}, {@link #setupFlags()}),
 * which any thread may call. The ring is not thread-safe: it may change submitter thread only through a
 * happens-before hand-off (e.g. created on the main thread, then handed to its IOThread before that thread's
 * first call). That is why its memory lives in a shared {@link Arena} (a confined arena would pin it to the
 * creating thread). {@link #close()} frees everything: the rings are unmapped, the ring fd closed and the arena
 * closed, so a later use of any segment of this ring throws {@link IllegalStateException} instead of touching
 * unmapped memory. Closing twice is harmless.
 *
 * <p>{@link #registerRingFd()} registers the ring fd in the <em>calling thread's</em> io_uring context (the
 * kernel keeps registered ring fds per task). From then on only that thread may enter the ring: the index
 * means nothing, or another ring, on any other thread. This class enforces that rule and throws
 * {@link IllegalStateException} on a violation; it also keeps {@link #close()} on another thread from
 * unregistering that thread's own rings (see there).
 *
 * <h2>Memory ordering</h2>
 * The SQ and CQ indices are shared with the kernel, which reads and writes them concurrently (always with
 * SQPOLL; while this thread is inside {@code io_uring_enter} otherwise). Java accesses them through a
 * {@code VarHandle} on {@code JAVA_INT} with exactly these modes:
 * <table>
 *   <caption>Barriers</caption>
 *   <tr><th>access</th><th>mode</th><th>pairs with (kernel)</th></tr>
 *   <tr><td>SQ head load ({@link #nextSqe()}, {@link #sqReady()})</td><td>acquire</td>
 *       <td>{@code smp_store_release(&rings->sq.head)} in {@code io_commit_sqring()}</td></tr>
 *   <tr><td>SQ tail store ({@link #submit()}, {@link #submitAndWait(int)})</td><td>release</td>
 *       <td>{@code smp_load_acquire(&rings->sq.tail)} in {@code io_sqring_entries()}</td></tr>
 *   <tr><td>CQ tail load ({@link #cqReady()})</td><td>acquire</td>
 *       <td>{@code smp_store_release(&rings->cq.tail)} in {@code io_commit_cqring()}</td></tr>
 *   <tr><td>CQ head store ({@link #cqAdvance(int)})</td><td>release</td>
 *       <td>{@code READ_ONCE(rings->cq.head)} + control dependency before a CQE slot is reused
 *           ({@code __io_cqring_events()} / {@code io_cqe_cache_refill()})</td></tr>
 *   <tr><td>SQ flags load ({@link #sqFlagsOpaque()})</td><td>opaque ({@code READ_ONCE})</td>
 *       <td>{@code atomic_or(..., &rings->sq_flags)}</td></tr>
 * </table>
 * Our own SQ tail copy ({@code sqe_tail}/{@code sqe_head} in {@code struct io_uring}) and the CQ head are read
 * plainly: only this thread writes them.
 */
public final class IoUringRing implements AutoCloseable {
    private static final VarHandle U32 = ValueLayout.JAVA_INT.varHandle();

    /** liburing's {@code INT_FLAG_REG_RING} ({@code src/int_flags.h}): the ring fd is registered. */
    private static final byte INT_FLAG_REG_RING = 1;

    /**
     * Sizes and offsets from the generated layouts, in a holder so that initialising {@code IoUringRing} touches
     * no generated class: they are first read in the constructor, after {@link IoUringLibrary#requireLoaded()}.
     * Constants; any thread.
     */
    private static final class Layout {
        static final long SQE_SIZE = io_uring_sqe.sizeof();
        static final long CQE_SIZE = io_uring_cqe.sizeof();
        static final long CQE_USER_DATA = io_uring_cqe.user_data$offset();
        static final long CQE_RES = io_uring_cqe.res$offset();
        static final long CQE_FLAGS = io_uring_cqe.flags$offset();
    }

    private final Arena arena;
    private final MemorySegment ring;
    private final MemorySegment sq;
    private final MemorySegment sqKhead;
    private final MemorySegment sqKtail;
    private final MemorySegment sqKflags;
    private final MemorySegment[] sqeSlots;
    private final MemorySegment cqKhead;
    private final MemorySegment cqKtail;
    private final MemorySegment cqes;
    private final MemorySegment cqePtr;
    private final MemorySegment timespec;
    private final int sqMask;
    private final int sqEntries;
    private final int cqMask;
    private final int cqEntries;
    private final int cqeShift;
    private final int setupFlags;
    private final int features;
    private final int fd;
    /** Once-guard: its CAS runs close() once, isClosed() reads it on any thread; it orders nothing else. */
    private final AtomicBoolean closed = new AtomicBoolean();
    /**
     * The thread whose io_uring context holds the registered ring fd, or null. Written once by the submitter thread;
     * volatile because {@link #mayEnter()} reads it on any thread: the store, after {@code ringFdTid}'s, pairs with
     * the load before {@code ringFdTid}'s (a plain load on x86).
     */
    private volatile Thread ringFdThread;
    /** The kernel's id of that thread ({@link ThreadId}), which settles a mismatch of {@link Thread}s. */
    private int ringFdTid;

    private IoUringRing(Arena arena, MemorySegment ring) {
        this.arena = arena;
        this.ring = ring;
        this.sq = io_uring.sq(ring);
        MemorySegment cq = io_uring.cq(ring);
        this.setupFlags = io_uring.flags(ring);
        this.features = io_uring.features(ring);
        this.fd = io_uring.ring_fd(ring);

        // liburing's io_uring_mmap() pointed these into the mmap'ed rings; bound them and tie them to our arena.
        this.sqKhead = word(io_uring_sq.khead(sq));
        this.sqKtail = word(io_uring_sq.ktail(sq));
        this.sqKflags = word(io_uring_sq.kflags(sq));
        this.sqMask = word(io_uring_sq.kring_mask(sq)).get(ValueLayout.JAVA_INT, 0L);
        this.sqEntries = io_uring_sq.ring_entries(sq);
        int sqeShift = (setupFlags & LibUring.IORING_SETUP_SQE128()) != 0 ? 1 : 0;
        long slotSize = Layout.SQE_SIZE << sqeShift;
        MemorySegment sqes = io_uring_sq.sqes(sq).reinterpret(slotSize * sqEntries, arena, null);
        // liburing 2.3's io_uring_queue_init_params() filled the SQ index array with array[i] = i, so slot i
        // is always submitted through array entry i: one fixed segment per slot, no allocation per SQE.
        MemorySegment array = io_uring_sq.array(sq).reinterpret(4L * sqEntries, arena, null);
        this.sqeSlots = new MemorySegment[sqEntries];
        for (int i = 0; i < sqEntries; i++) {
            if (array.getAtIndex(ValueLayout.JAVA_INT, i) != i) {
                throw new IllegalStateException("SQ array entry " + i + " is not the identity mapping");
            }
            sqeSlots[i] = sqes.asSlice(i * slotSize, slotSize);
        }

        this.cqKhead = word(io_uring_cq.khead(cq));
        this.cqKtail = word(io_uring_cq.ktail(cq));
        this.cqMask = word(io_uring_cq.kring_mask(cq)).get(ValueLayout.JAVA_INT, 0L);
        this.cqEntries = io_uring_cq.ring_entries(cq);
        this.cqeShift = (setupFlags & LibUring.IORING_SETUP_CQE32()) != 0 ? 1 : 0;
        this.cqes = io_uring_cq.cqes(cq).reinterpret((Layout.CQE_SIZE << cqeShift) * cqEntries, arena, null);

        this.cqePtr = arena.allocate(ValueLayout.ADDRESS);
        this.timespec = arena.allocate(__kernel_timespec.layout());
        if (sqMask != io_uring_sq.ring_mask(sq) || cqMask != io_uring_cq.ring_mask(cq)) {
            throw new IllegalStateException("ring masks in the mmap'ed rings and struct io_uring disagree");
        }
    }

    private MemorySegment word(MemorySegment pointer) {
        return pointer.reinterpret(Integer.BYTES, arena, null);
    }

    /**
     * Sets up a ring with {@code io_uring_queue_init_params(entries, ring, {flags = setupFlags})}.
     *
     * @param entries    SQ size; the kernel rounds it up to a power of two, the CQ gets twice as many
     * @param setupFlags {@code IORING_SETUP_*} flags (0 for a plain interrupt-driven ring). With
     *                   {@code IORING_SETUP_SINGLE_ISSUER} (and {@code DEFER_TASKRUN}, which needs it) the kernel binds
     *                   the ring to the creating thread: another thread's submit fails with {@code EEXIST}, so the
     *                   hand-off the class comment allows is not possible for such a ring
     * @throws IllegalArgumentException when {@code entries} is not positive, or {@code setupFlags} holds a flag
     *                                  liburing 2.3 does not define (above {@code IORING_SETUP_DEFER_TASKRUN}): newer
     *                                  kernels take such flags, e.g. {@code IORING_SETUP_NO_SQARRAY}, which change
     *                                  the ring layout that liburing 2.3 then maps wrongly
     * @throws IllegalStateException    when {@code liburing.so.2} cannot be loaded (check
     *                                  {@link IoUringProbe#availability()} first)
     * @throws NativeCallException      when the kernel refuses, e.g. {@code EPERM} (seccomp, sysctl),
     *                                  {@code ENOSYS}, {@code ENOMEM}, {@code EINVAL}
     */
    public static IoUringRing create(int entries, int setupFlags) {
        if (entries <= 0) {
            throw new IllegalArgumentException("entries must be positive: " + entries);
        }
        IoUringLibrary.requireLoaded();
        int unknown = setupFlags & ~knownSetupFlags();
        if (unknown != 0) {
            throw new IllegalArgumentException("IoUringRing.create: setup flag " + setupFlagName(unknown)
                    + " in flags=0x" + Integer.toHexString(setupFlags) + " is unknown to liburing 2.3");
        }
        Arena arena = Arena.ofShared();
        try {
            MemorySegment ring = arena.allocate(io_uring.layout());
            MemorySegment params = arena.allocate(io_uring_params.layout());
            io_uring_params.flags(params, setupFlags);
            int result = LibUring.io_uring_queue_init_params(entries, ring, params);
            if (result < 0) {
                throw new NativeCallException("io_uring_queue_init_params", -result,
                        "entries=" + entries + ", flags=0x" + Integer.toHexString(setupFlags));
            }
            try {
                return new IoUringRing(arena, ring);
            } catch (RuntimeException | Error e) {
                LibUring.io_uring_queue_exit(ring);
                throw e;
            }
        } catch (RuntimeException | Error e) {
            arena.close();
            throw e;
        }
    }

    /** Every {@code IORING_SETUP_*} flag liburing 2.3's header (the generated {@code LibUring}) defines. */
    private static int knownSetupFlags() {
        return LibUring.IORING_SETUP_IOPOLL() | LibUring.IORING_SETUP_SQPOLL() | LibUring.IORING_SETUP_SQ_AFF()
                | LibUring.IORING_SETUP_CQSIZE() | LibUring.IORING_SETUP_CLAMP() | LibUring.IORING_SETUP_ATTACH_WQ()
                | LibUring.IORING_SETUP_R_DISABLED() | LibUring.IORING_SETUP_SUBMIT_ALL()
                | LibUring.IORING_SETUP_COOP_TASKRUN() | LibUring.IORING_SETUP_TASKRUN_FLAG()
                | LibUring.IORING_SETUP_SQE128() | LibUring.IORING_SETUP_CQE32()
                | LibUring.IORING_SETUP_SINGLE_ISSUER() | LibUring.IORING_SETUP_DEFER_TASKRUN();
    }

    /** The lowest flag in {@code flags}, by its name in the newer kernel UAPI where it has one there. */
    private static String setupFlagName(int flags) {
        int bit = Integer.numberOfTrailingZeros(flags);
        String name = switch (bit) {
            case 14 -> "IORING_SETUP_NO_MMAP";
            case 15 -> "IORING_SETUP_REGISTERED_FD_ONLY";
            case 16 -> "IORING_SETUP_NO_SQARRAY";
            case 17 -> "IORING_SETUP_HYBRID_IOPOLL";
            default -> "1 << " + bit;
        };
        return name + " (0x" + Integer.toHexString(1 << bit) + ")";
    }

    /** {@link #create(int, int)} with no setup flags. */
    public static IoUringRing create(int entries) {
        return create(entries, 0);
    }

    /**
     * A ring that runs completions as task work cooperatively, {@code IORING_SETUP_COOP_TASKRUN |
     * IORING_SETUP_TASKRUN_FLAG}, where the kernel has them (5.19 and later), and a plain ring before (the kernel
     * answers {@code EINVAL} to flags it does not know). A completion that arrives while the submitting thread runs
     * in user space then does not interrupt it: the kernel raises {@code IORING_SQ_TASKRUN}
     * ({@link #taskRunPending()}) and the thread's next system call posts the CQE. A sleeping thread is woken as
     * before. {@link #setupFlags()} tells which ring it got.
     *
     * @throws NativeCallException as {@link #create(int, int)}, other than {@code EINVAL} for the flags
     */
    public static IoUringRing createCooperative(int entries) {
        try {
            return create(entries, LibUring.IORING_SETUP_COOP_TASKRUN() | LibUring.IORING_SETUP_TASKRUN_FLAG());
        } catch (NativeCallException e) {
            if (e.errno() != Errno.EINVAL) {
                throw e;
            }
            return create(entries, 0);
        }
    }

    /** The ring fd (not the registered index). Any thread. */
    public int fd() {
        return fd;
    }

    /** SQ size (a power of two). Any thread. */
    public int sqEntries() {
        return sqEntries;
    }

    /** CQ size (a power of two, twice {@link #sqEntries()} unless {@code IORING_SETUP_CQSIZE}). Any thread. */
    public int cqEntries() {
        return cqEntries;
    }

    /** {@code IORING_FEAT_*} bits the kernel reported at setup. Any thread. */
    public int features() {
        return features;
    }

    /** The {@code IORING_SETUP_*} flags the ring was created with. Any thread. */
    public int setupFlags() {
        return setupFlags;
    }

    // ---------------------------------------------------------------- submission side

    /**
     * The next free SQE, zeroed, or {@code null} when the SQ ring is full (liburing's {@code io_uring_get_sqe}).
     * Fill it with {@link Sqe}; it reaches the kernel at the next {@link #submit()}. Submitter thread.
     */
    public MemorySegment nextSqe() {
        int tail = io_uring_sq.sqe_tail(sq);
        int next = tail + 1;
        // Acquire pairs with the kernel's smp_store_release(&rings->sq.head) in io_commit_sqring(): the kernel
        // has finished reading every SQE before the head we see, so the slot may be overwritten.
        // (liburing 2.3 uses a relaxed load here unless SQPOLL, because without SQPOLL the kernel consumed the
        // SQEs synchronously inside our own io_uring_enter; acquire is the same load on x86 and correct for both.)
        int head = sqHeadAcquire();
        if (Integer.compareUnsigned(next - head, sqEntries) > 0) {
            return null;
        }
        MemorySegment sqe = sqeSlots[tail & sqMask];
        io_uring_sq.sqe_tail(sq, next);
        sqe.fill((byte) 0);
        return sqe;
    }

    /**
     * SQEs taken with {@link #nextSqe()} that the kernel has not consumed yet (liburing's
     * {@code io_uring_sq_ready}). Submitter thread.
     */
    public int sqReady() {
        return io_uring_sq.sqe_tail(sq) - sqHeadAcquire();
    }

    /**
     * The {@code i}-th SQE taken with {@link #nextSqe()} that the kernel has not consumed yet
     * ({@code 0 <= i < sqReady()}), for a submitter that must rewrite requests it can no longer submit. Submitter
     * thread.
     */
    public MemorySegment unsubmittedSqe(int i) {
        int head = sqHeadAcquire();
        int ready = io_uring_sq.sqe_tail(sq) - head;
        if (i < 0 || i >= ready) {
            throw new IndexOutOfBoundsException("unsubmitted SQE " + i + " of " + ready);
        }
        return sqeSlots[(head + i) & sqMask];
    }

    /** Free SQ slots (liburing's {@code io_uring_sq_space_left}). Submitter thread. */
    public int sqSpaceLeft() {
        return sqEntries - sqReady();
    }

    /**
     * Publishes the SQEs taken since the last submit and enters the kernel to submit them
     * ({@code io_uring_submit}). Returns how many SQEs the kernel consumed, which may be fewer than were
     * pending (the rest stay queued and go with the next submit). Submitter thread.
     *
     * @throws NativeCallException for a negative result, e.g. {@code EAGAIN}/{@code EBUSY} (out of resources or
     *                             CQ overflow: reap completions and retry), {@code EINTR}, {@code EBADF}
     */
    public int submit() {
        return NativeCallException.check("io_uring_submit", submitOrErrno());
    }

    /** {@link #submit()}, returning {@code -errno} instead of throwing. Submitter thread. */
    public int submitOrErrno() {
        checkEnterThread();
        publishSqTail();
        return LibUring.io_uring_submit(ring);
    }

    /**
     * {@link #submit()}, then waits until at least {@code waitNr} CQEs are ready ({@code io_uring_submit_and_wait}).
     * Submitter thread.
     */
    public int submitAndWait(int waitNr) {
        return NativeCallException.check("io_uring_submit_and_wait", submitAndWaitOrErrno(waitNr));
    }

    /** {@link #submitAndWait(int)}, returning {@code -errno} instead of throwing. Submitter thread. */
    public int submitAndWaitOrErrno(int waitNr) {
        checkEnterThread();
        publishSqTail();
        return LibUring.io_uring_submit_and_wait(ring, waitNr);
    }

    /**
     * The Java form of liburing's {@code __io_uring_flush_sq}: makes the SQEs taken since the last call visible
     * to the kernel by storing the new SQ tail.
     *
     * <p>liburing 2.3 stores the tail with {@code IO_URING_WRITE_ONCE} (relaxed) unless SQPOLL, relying on the
     * {@code io_uring_enter} system call that follows to order the SQE stores before the kernel reads them. In
     * Java the SQE stores are plain {@code MemorySegment} stores, which the JIT may reorder with any later plain
     * or opaque store; a downcall is not a Java Memory Model fence. A release store orders every earlier SQE store
     * before the tail under the JMM, it pairs with the kernel's {@code smp_load_acquire(&rings->sq.tail)} in
     * {@code io_sqring_entries()}, it is what the SQPOLL case needs anyway (the kernel thread reads the tail
     * concurrently), and on x86-64 it compiles to a plain {@code mov} (only a compiler barrier).
     *
     * <p>Afterwards {@code sqe_head == sqe_tail} in {@code struct io_uring}, so liburing's own
     * {@code __io_uring_flush_sq} inside {@code io_uring_submit} stores nothing and just returns
     * {@code tail - *khead}, the number to submit.
     */
    private void publishSqTail() {
        int tail = io_uring_sq.sqe_tail(sq);
        if (io_uring_sq.sqe_head(sq) != tail) {
            io_uring_sq.sqe_head(sq, tail);
            // Release pairs with the kernel's smp_load_acquire(&rings->sq.tail) in io_sqring_entries().
            sqTailRelease(tail);
        }
    }

    private int sqHeadAcquire() {
        // Pairs with the kernel's smp_store_release(&rings->sq.head) in io_commit_sqring().
        return (int) U32.getAcquire(sqKhead, 0L);
    }

    private void sqTailRelease(int tail) {
        // Pairs with the kernel's smp_load_acquire(&rings->sq.tail) in io_sqring_entries().
        U32.setRelease(sqKtail, 0L, tail);
    }

    /**
     * The SQ ring flags ({@code IORING_SQ_NEED_WAKEUP}, {@code IORING_SQ_CQ_OVERFLOW}, ...), read once
     * ({@code READ_ONCE}, opaque). Submitter thread.
     */
    public int sqFlagsOpaque() {
        // READ_ONCE of a word the kernel changes with atomic_or/atomic_andnot(&rings->sq_flags); no ordering.
        return (int) U32.getOpaque(sqKflags, 0L);
    }

    /**
     * Whether completions overflowed the CQ ring and wait in the kernel (liburing's
     * {@code io_uring_cq_has_overflow}); any {@code io_uring_enter} with {@code GETEVENTS} flushes them.
     * Submitter thread.
     */
    public boolean cqHasOverflow() {
        return (sqFlagsOpaque() & LibUring.IORING_SQ_CQ_OVERFLOW()) != 0;
    }

    /**
     * Whether a completion of this ring waits for the submitter to pass through the kernel before it is posted
     * ({@code IORING_SQ_TASKRUN}). On a ring set up with {@code IORING_SETUP_COOP_TASKRUN |
     * IORING_SETUP_TASKRUN_FLAG}, the kernel does not interrupt a submitter running in user space to run a
     * completion's task work; any later system call or interrupt of that thread runs it, and an
     * {@code io_uring_enter} with {@code GETEVENTS} does so on purpose. liburing 2.3's {@code io_uring_submit} and
     * {@code io_uring_submit_and_wait(ring, 0)} add {@code GETEVENTS} and enter when this flag is up, even with
     * nothing to submit ({@code cq_ring_needs_flush} in its {@code src/queue.c}). Always false on other rings.
     * Submitter thread.
     */
    public boolean taskRunPending() {
        return (sqFlagsOpaque() & LibUring.IORING_SQ_TASKRUN()) != 0;
    }

    // ---------------------------------------------------------------- completion side

    /**
     * How many CQEs are ready to read (liburing's {@code io_uring_cq_ready}). The CQ tail is loaded with
     * acquire, which pairs with the kernel's {@code smp_store_release(&rings->cq.tail)} in
     * {@code io_commit_cqring()}: the CQEs before that tail are fully written when we read them.
     * Submitter thread.
     *
     * <p>Iterate: {@code int n = cqReady(), head = cqHead(); for (i < n) use cqeRes(head + i)...;
     * cqAdvance(n);}
     */
    public int cqReady() {
        return cqTailAcquire() - cqHead();
    }

    /** The CQ head: the position of the first unread CQE. Plain load: only this thread stores it. */
    public int cqHead() {
        return cqKhead.get(ValueLayout.JAVA_INT, 0L);
    }

    private int cqTailAcquire() {
        // Pairs with the kernel's smp_store_release(&rings->cq.tail) in io_commit_cqring(): CQE stores first.
        return (int) U32.getAcquire(cqKtail, 0L);
    }

    /** {@code user_data} of the CQE at ring position {@code position} (a value from {@link #cqHead()} on). */
    public long cqeUserData(int position) {
        return cqes.get(ValueLayout.JAVA_LONG, cqeOffset(position) + Layout.CQE_USER_DATA);
    }

    /** {@code res} of the CQE at {@code position}: the result, or {@code -errno}. */
    public int cqeRes(int position) {
        return cqes.get(ValueLayout.JAVA_INT, cqeOffset(position) + Layout.CQE_RES);
    }

    /** {@code flags} ({@code IORING_CQE_F_*}) of the CQE at {@code position}. */
    public int cqeFlags(int position) {
        return cqes.get(ValueLayout.JAVA_INT, cqeOffset(position) + Layout.CQE_FLAGS);
    }

    private long cqeOffset(int position) {
        return ((long) (position & cqMask) << cqeShift) * Layout.CQE_SIZE;
    }

    /**
     * Marks {@code n} CQEs as seen (liburing's {@code io_uring_cq_advance}). Release store of the CQ head: our
     * reads of those CQEs happen before the kernel, which loads the head with {@code READ_ONCE} and a control
     * dependency before reusing a slot ({@code __io_cqring_events()} from {@code io_cqe_cache_refill()}), may
     * overwrite them. Submitter thread.
     *
     * @throws IllegalArgumentException unless {@code 0 <= n <= }{@link #cqReady()}: a head moved past the tail would
     *                                  hide the real completions that arrive after it
     */
    public void cqAdvance(int n) {
        if (n < 0 || n > cqReady()) {
            throw new IllegalArgumentException("cqAdvance: " + n + " CQEs, " + cqReady() + " ready");
        }
        if (n != 0) {
            // Release: our CQE loads happen before the kernel sees the slots free. Pairs with the kernel's
            // READ_ONCE(rings->cq.head) + control dependency in __io_cqring_events() (io_cqe_cache_refill()).
            U32.setRelease(cqKhead, 0L, cqHead() + n);
        }
    }

    /**
     * Waits up to {@code nanos} for a completion ({@code io_uring_wait_cqe_timeout}; with
     * {@code IORING_FEAT_EXT_ARG} it submits nothing). Returns the number of ready CQEs (at least 1), or 0 when
     * the timeout expired ({@code ETIME}) or a signal interrupted the wait ({@code EINTR}). A negative
     * {@code nanos} waits without a timeout. Submitter thread.
     *
     * @throws NativeCallException for any other error
     */
    public int waitCqeTimeout(long nanos) {
        checkEnterThread();
        MemorySegment ts = MemorySegment.NULL;
        if (nanos >= 0) {
            __kernel_timespec.tv_sec(timespec, nanos / 1_000_000_000L);
            __kernel_timespec.tv_nsec(timespec, nanos % 1_000_000_000L);
            ts = timespec;
        }
        int result = LibUring.io_uring_wait_cqe_timeout(ring, cqePtr, ts);
        if (result == 0) {
            return Math.max(1, cqReady());
        }
        if (result == -Errno.ETIME || result == -Errno.EINTR) {
            return 0;
        }
        throw new NativeCallException("io_uring_wait_cqe_timeout", -result);
    }

    // ---------------------------------------------------------------- registration

    /**
     * Registers the ring fd with {@code io_uring_register_ring_fd} so that liburing enters the ring through its
     * registered index ({@code IORING_ENTER_REGISTERED_RING}), saving an fd lookup per system call. Returns
     * whether it worked ({@code false} on kernels before 5.18, which answer {@code EINVAL}, and on a virtual thread,
     * whose kernel thread changes as it moves between carriers). After success only
     * the calling thread may submit or wait on this ring, and it should be the one that closes it.
     * Submitter thread.
     */
    public boolean registerRingFd() {
        if (ringFdThread != null) {
            return isRingFdThread(ringFdThread);
        }
        if (Thread.currentThread().isVirtual()) {
            // The registration lives in the carrier's table, and a virtual thread moves between carriers: a submit
            // after a move entered through another carrier's index (EINVAL, or another ring there), and the checks
            // here, which compare the Thread first, let it through (session 26). The ring works unregistered.
            return false;
        }
        int result = LibUring.io_uring_register_ring_fd(ring);
        if (result == 1) {
            ringFdTid = ThreadId.current();
            ringFdThread = Thread.currentThread(); // volatile store: publishes ringFdTid with it
            return true;
        }
        return false;
    }

    /**
     * {@code io_uring_register_buffers}: registers {@code count} {@code struct iovec}s at {@code iovecs} as
     * fixed buffers 0..count-1 for {@code READ_FIXED}/{@code WRITE_FIXED}. Their pages are pinned (charged to
     * {@code RLIMIT_MEMLOCK}) until {@link #unregisterBuffers()} or {@link #close()}. Submitter thread.
     */
    public void registerBuffers(MemorySegment iovecs, int count) {
        NativeCallException.check("io_uring_register_buffers", registerBuffersOrErrno(iovecs, count));
    }

    /**
     * {@link #registerBuffers} returning 0 or {@code -errno} ({@code ENOMEM}: over {@code RLIMIT_MEMLOCK};
     * {@code EBUSY}: buffers are registered already; {@code EFAULT}, {@code EINVAL}: a bad iovec). Submitter thread.
     */
    public int registerBuffersOrErrno(MemorySegment iovecs, int count) {
        SegmentBounds.checkElements(iovecs, count, 16, "io_uring_register_buffers");
        return LibUring.io_uring_register_buffers(ring, iovecs, count);
    }

    /** {@code io_uring_unregister_buffers}. Submitter thread. */
    public void unregisterBuffers() {
        NativeCallException.check("io_uring_unregister_buffers", unregisterBuffersOrErrno());
    }

    /** {@link #unregisterBuffers} returning 0 or {@code -errno} ({@code ENXIO}: none registered). Submitter thread. */
    public int unregisterBuffersOrErrno() {
        return LibUring.io_uring_unregister_buffers(ring);
    }

    /**
     * {@code io_uring_register_files}: registers {@code count} fds (a C {@code int} array at {@code fds}) as fixed
     * files 0..count-1, used with {@code IOSQE_FIXED_FILE}. On {@code EMFILE} liburing raises the soft
     * {@code RLIMIT_NOFILE} once and retries. Submitter thread.
     */
    public void registerFiles(MemorySegment fds, int count) {
        SegmentBounds.checkElements(fds, count, Integer.BYTES, "io_uring_register_files");
        NativeCallException.check("io_uring_register_files", LibUring.io_uring_register_files(ring, fds, count));
    }

    /** {@code io_uring_unregister_files}. Submitter thread. */
    public void unregisterFiles() {
        NativeCallException.check("io_uring_unregister_files", LibUring.io_uring_unregister_files(ring));
    }

    /**
     * Whether the calling thread may enter the ring: the ring fd is not registered, or registered by this
     * thread. Any thread.
     */
    public boolean mayEnter() {
        Thread owner = ringFdThread;
        return owner == null || isRingFdThread(owner);
    }

    /**
     * Whether the calling thread registered the ring fd. The {@link Thread} comparison is cheap but, in code run
     * by a coroutine that moved between threads, {@link Thread#currentThread()} may be a stale value compiled code
     * kept from before the move; a mismatch is therefore settled by the kernel's id of the running thread.
     */
    private boolean isRingFdThread(Thread owner) {
        return ThreadId.isCurrent(owner, ringFdTid);
    }

    private void checkEnterThread() {
        Thread owner = ringFdThread;
        if (owner != null && !isRingFdThread(owner)) {
            throw new IllegalStateException("the ring fd is registered in thread " + owner.getName()
                    + "; entering the ring from " + Thread.currentThread().getName()
                    + " would use that index in the wrong thread's table");
        }
    }

    // ---------------------------------------------------------------- teardown

    /**
     * Unmaps the rings, closes the ring fd ({@code io_uring_queue_exit}) and closes the arena. Idempotent.
     * Requests still in flight are cancelled by the kernel; their buffers must stay alive until then, which the
     * caller guarantees by reaping every CQE first. Submitter thread.
     *
     * <p>If the ring fd was registered by another thread, liburing's {@code io_uring_unregister_ring_fd} would
     * run against <em>this</em> thread's table (the kernel does not check which ring sits at the index) and could
     * unregister one of this thread's own rings. So in that case the registration is left alone: the registering
     * thread's table keeps a reference to the ring file until that thread exits, and only then is the kernel
     * memory of the ring freed. The fd itself is closed at once either way.
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        try {
            if (ringFdThread != null && !isRingFdThread(ringFdThread)) {
                io_uring.int_flags(ring, (byte) (io_uring.int_flags(ring) & ~INT_FLAG_REG_RING));
                io_uring.enter_ring_fd(ring, fd);
            }
            LibUring.io_uring_queue_exit(ring);
        } finally {
            arena.close();
        }
    }

    /** Whether {@link #close()} has been called. Any thread. */
    public boolean isClosed() {
        return closed.get();
    }
}
