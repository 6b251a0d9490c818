package io.blockloop.block.graph;

import io.blockloop.aio.AioContext;
import io.blockloop.aio.AioWait;
import io.blockloop.aio.ContextLocal;
import io.blockloop.aio.MainLoop;
import io.blockloop.aio.role.ThreadRole;
import io.blockloop.coroutine.Coroutine;
import io.blockloop.ffm.libc.Membarrier;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * The reader/writer lock of the block graph (QEMU's {@code block/graph-lock.c}): it protects the edges between
 * nodes (a node's children and parents, a child's node). There is one writer, the main loop, and any number of
 * readers, coroutines in any {@link AioContext}. The process uses {@link #global()}; other instances are for
 * tests (each one takes a {@link ContextLocal} slot in every context, so create few).
 *
 * <h2>Readers</h2>
 * Each context keeps its own reader count ({@link ReaderCount}, a {@link ContextLocal} on its own cache lines),
 * so the read fast path writes no shared cache line: {@link #readLock()} increments the count of the context
 * the coroutine runs in, issues a full fence and reads {@code hasWriter}; if no writer is there it holds the
 * lock. Otherwise (slow path, under the monitor {@code lock}) it re-checks {@code hasWriter}, and if the writer is still
 * there it takes its count back, kicks the writer ({@link AioWait#kick()}) and sleeps in the reader queue
 * (yielding after it left the monitor) until {@link #writeUnlock()} restarts it in its own context, then tries
 * again. {@link #readUnlock()} decrements the
 * count of the context the coroutine runs in then, which need not be the one it locked in: a reader may move
 * ({@link Coroutine#rescheduleSelf}), so single counts may go negative and only the total means anything. When a
 * context closes, its count is folded into an orphaned count. A reader finds its context through its
 * coroutine ({@link Coroutine#context()}), never through {@link Thread#currentThread()} or
 * {@link AioContext#current()}, which compiled code may have read before the coroutine last moved (see the
 * package documentation).
 *
 * <p>The read lock is not reentrant in spirit: a coroutine that takes it twice must release it twice, and a
 * coroutine that takes it while a writer waits may sleep (a writer that finds readers sets {@code hasWriter}
 * once they are gone). Take it once, at the top of a request, as {@code BlockBackend} will.
 *
 * <h2>The writer</h2>
 * {@link #writeLock()} (main loop thread, outside coroutines) first quiesces all I/O without polling
 * ({@link DrainAll#beginNoPoll()}), so that new requests cannot starve it, then loops: clear {@code hasWriter}
 * and poll the main loop until the reader total is zero (with {@code hasWriter} clear, a callback run by that
 * poll may take the read lock without sleeping: no deadlock); set {@code hasWriter}, full fence, and check the
 * total again; readers that got in between make it go round once more. Then {@link DrainAll#end()}.
 * {@link #writeUnlock()} clears {@code hasWriter}, restarts every sleeping reader in its own context, and runs
 * the main context's pending BHs (QEMU's {@code aio_bh_poll}, for the BHs scheduled inside the write section).
 * The main loop reads the graph without the lock: it is the only writer ({@link #readLockMainLoop()} is there
 * to say so).
 *
 * <h2>Threads</h2>
 * <ul>
 *   <li>{@link #readLock()}, {@link #readUnlock()}, {@link #readLocked()}: coroutines running in an
 *       {@link AioContext}, any context (including the main one).</li>
 *   <li>{@link #writeLock()}, {@link #tryWriteLock}, {@link #writeUnlock()}, {@link #setDrainAll}: the main loop's
 *       thread, outside coroutines; checked always ({@link IllegalStateException}).</li>
 *   <li>{@link #readLockMainLoop()}, {@link #readUnlockMainLoop()}: the main loop's thread, outside coroutines;
 *       checked with {@code -ea}.</li>
 *   <li>{@link #assertReadable()}, {@link #assertWritable()}, {@link #checkReadable()},
 *       {@link #checkWritable()}, {@link #readerCount()}, {@link #hasWriter()}, {@link #sleepingReaders()}: any
 *       thread.</li>
 * </ul>
 *
 * <h2>Memory ordering</h2>
 * Readers take and release the lock with no fence at all when the process-wide barrier {@link Membarrier} is
 * available ({@link #asymmetric()}, Linux 4.14+, unless {@value #FENCES_PROPERTY}{@code =true}): the writer, which
 * is rare, calls {@link Membarrier#barrierAllThreads()} where QEMU's reader would have fenced, between its store
 * and its load in each pairing below, which orders every reader's store before its load as a fence would have
 * (userspace RCU's asymmetric Dekker). Reader entry drops QEMU's {@code smp_mb} after the increment; reader exit
 * drops the one in {@code aio_wait_kick}. The reader's store and load are opaque accesses, which the compiler keeps
 * in program order (C2 surrounds every ordered VarHandle access with a CPU-order barrier); only the CPU could
 * reorder them, and the writer's barrier covers the CPU. That is a property of HotSpot's compilers, not a promise
 * of the Java memory model, which lets a compiler move an opaque or release store after a later acquire or opaque
 * load: on a JVM whose JIT is another (Graal, {@code -XX:+UseJVMCICompiler}), set {@value #FENCES_PROPERTY}
 * {@code =true}. Without {@link Membarrier}, readers fence as QEMU's do:
 * <ul>
 *   <li>Reader entry vs writer entry (Dekker): the reader stores its count and the writer stores
 *       {@code hasWriter = 1}, each followed by a full fence and a load of the other's variable; at least one sees
 *       the other's store, so either the writer counts the reader or the reader backs off.</li>
 *   <li>Reader exit vs the waiting writer: the reader stores its count with release, then {@link AioWait#kick()}
 *       issues a full fence and reads the waiter count; the writer increments the waiter count (volatile RMW)
 *       and then reads the reader counts. Either the writer sees the decrement or the reader sees the waiter and
 *       wakes the main loop, whose wait then re-checks the counts.</li>
 *   <li>Writer exit vs readers: {@code hasWriter = 0} is a release store; readers load it with acquire, so a
 *       reader that enters after a write section sees all of its graph changes; a reader's release decrement
 *       pairs with the writer's acquire loads of the counts, so its reads of the graph come before any change.</li>
 *   <li>The count list, the orphaned count and the reader queue are guarded by the monitor {@code lock}
 *       (QEMU's {@code aio_context_list_lock}); a sleeper woken in another context is handed over by the
 *       scheduled-coroutine list's own release/acquire.</li>
 * </ul>
 */
public final class GraphLock {
    private static final VarHandle HAS_WRITER;

    static {
        try {
            HAS_WRITER = MethodHandles.lookup().findVarHandle(GraphLock.class, "hasWriter", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** Set to {@code true} to make readers fence as QEMU's do even when {@link Membarrier} works (comparison). */
    public static final String FENCES_PROPERTY = "blockloop.graphLock.readerFences";
    /** Readers skip their fences; the writer issues process-wide barriers instead (see the class comment). */
    private static final boolean ASYMMETRIC = !Boolean.getBoolean(FENCES_PROPERTY)
            && Membarrier.availability().available();

    private static final GraphLock GLOBAL = new GraphLock("graph");

    private final String name;
    /** Each context's reader count, created at a context's first reader and folded into orphans at its close. */
    private final ContextLocal<ReaderCount> readerCounts;
    /**
     * The monitor that guards the fields below it (QEMU's {@code aio_context_list_lock}); never held across a
     * yield. A monitor, not a {@code java.util.concurrent} lock: those record their owner as
     * {@link Thread#currentThread()}, which compiled code inside a coroutine may have read before the coroutine
     * moved to another thread (see the package documentation); a monitor is entered and left with the real thread.
     */
    private final Object lock = new Object();
    /** Every live context's count. */
    private final List<ReaderCount> counts = new ArrayList<>();
    /** The counts of closed contexts, summed. */
    private long orphanedReaders;
    /**
     * Readers that found a writer, asleep until {@link #writeUnlock()} (QEMU's {@code reader_queue}, a
     * {@code CoQueue}); FIFO. The deque reuses its array, so sleeping allocates nothing in the steady state.
     */
    private final ArrayDeque<Coroutine> sleepers = new ArrayDeque<>();
    /** Main loop thread only: the sleepers being restarted, outside the monitor. */
    private final ArrayDeque<Coroutine> restarting = new ArrayDeque<>();
    /** 1 while a writer holds the lock or is about to; through HAS_WRITER. */
    @SuppressWarnings("unused")
    private int hasWriter;
    /**
     * What the writer quiesces first; main loop thread only. Volatile: the store in the constructor (any thread) or
     * {@link #setDrainAll} pairs with the load in acquireWrite().
     */
    private volatile DrainAll drainAll;
    private final ReadLockScope readScope = new ReadLockScope(this);

    /** A lock named {@code name} (for messages) that quiesces nothing before writing. Any thread. */
    public GraphLock(String name) {
        this(name, DrainAll.NONE);
    }

    /** A lock named {@code name} (for messages) whose writer first quiesces I/O with {@code drainAll}. Any thread. */
    public GraphLock(String name, DrainAll drainAll) {
        this.name = Objects.requireNonNull(name, "name");
        this.drainAll = Objects.requireNonNull(drainAll, "drainAll");
        this.readerCounts = ContextLocal.of("graph lock '" + name + "' readers", this::register, this::orphan);
    }

    /** The process's graph lock, the one {@link GraphReadLocked} and {@link GraphWriteLocked} refer to. Any thread. */
    public static GraphLock global() {
        return GLOBAL;
    }

    public String name() {
        return name;
    }

    /**
     * Installs how the writer quiesces all I/O (the block layer's drain of everything). Main loop thread, while no
     * writer holds the lock.
     */
    public void setDrainAll(DrainAll drainAll) {
        Objects.requireNonNull(drainAll, "drainAll");
        checkWriterThread("GraphLock.setDrainAll");
        if (hasWriter()) {
            throw new IllegalStateException("GraphLock.setDrainAll called while the graph '" + name + "' is write-locked");
        }
        this.drainAll = drainAll;
    }

    // ----------------------------------------------------------------------------------------------------------
    // Readers

    /**
     * Takes the read lock (QEMU's {@code bdrv_graph_co_rdlock}); sleeps while a writer holds the lock. Coroutine
     * running in an {@link AioContext}, any context.
     *
     * @throws IllegalStateException outside a coroutine, or in a coroutine that runs in no context
     */
    public void readLock() {
        Coroutine self = Coroutine.self();
        readLock(self, readerContext(self, "GraphLock.readLock"));
    }

    /**
     * {@link #readLock()} for a caller that already looked up its coroutine and the context it runs in:
     * {@code self} must be {@link Coroutine#self()} and {@code ctx} its {@link Coroutine#context()} (asserted with
     * {@code -ea}). Saves both lookups on the request path ({@code BlockBackend}). Returns the reader count it
     * incremented, for {@link #readUnlock(Coroutine, ReaderCount)}. Coroutine running in {@code ctx}.
     */
    public ReaderCount readLock(Coroutine self, AioContext ctx) {
        assert self == Coroutine.self() : "GraphLock.readLock(" + self + ") called in " + Coroutine.self();
        assert ctx != null && ctx == self.context() : "GraphLock.readLock in " + ctx + " by " + self;
        ReaderCount count = readerCounts.get(ctx);
        for (;;) {
            count.incrementOpaque();
            if (!ASYMMETRIC) {
                // Full fence: the increment is visible before hasWriter is read. Pairs with the fence in
                // acquireWrite() between hasWriter = 1 and the writer's reads of the counts.
                VarHandle.fullFence();
            }
            // With ASYMMETRIC no fence: the writer's Membarrier.barrierAllThreads() after hasWriter = 1 orders the
            // increment above before this load on our CPU (see the class comment).
            // Acquire: pairs with the release store of hasWriter = 0 in writeUnlock(); the last write section's
            // changes are visible to this reader.
            if ((int) HAS_WRITER.getAcquire(this) == 0) {
                self.graphReadLocked();
                return count;
            }
            if (readLockSlowPath(self, count)) {
                self.graphReadLocked();
                return count;
            }
        }
    }

    /**
     * The writer is there (or was): re-check under the monitor, else back off and sleep until writeUnlock
     * restarts this coroutine. Returns true when the read lock is held (count still incremented), false to try
     * again.
     */
    private boolean readLockSlowPath(Coroutine self, ReaderCount count) {
        synchronized (lock) {
            // releaseWriter() clears hasWriter and takes the sleepers under this monitor: seeing 0 here means it
            // ran, and sleeping now would wait for a restart that already happened. Acquire, as in the fast path.
            if ((int) HAS_WRITER.getAcquire(this) == 0) {
                return true;
            }
            count.decrementRelease();
            // The writer may be polling for this count to drop: wake it (kick's own full fence orders the
            // decrement before its read of the waiter count).
            AioWait.kick();
            sleepers.addLast(self);
        }
        // Outside the monitor (a coroutine never holds it across a yield). A restart that comes before the yield
        // schedules this coroutine in its context (another thread's), which enters it only after the yield; from
        // the main loop's own thread no restart can come in between.
        Coroutine.yield();
        return false;
    }

    /**
     * Releases the read lock (QEMU's {@code bdrv_graph_co_rdunlock}) in the context the coroutine runs in now,
     * which may differ from the one it locked in. Coroutine running in an {@link AioContext}.
     *
     * @throws IllegalStateException outside a coroutine, in a coroutine that runs in no context, or in one that
     *                               holds no graph read lock ({@link Coroutine#graphReadLocks()})
     */
    public void readUnlock() {
        Coroutine self = Coroutine.self();
        release(self, readerCounts.get(readerContext(self, "GraphLock.readUnlock")));
    }

    /**
     * {@link #readUnlock()} given the count {@link #readLock(Coroutine, AioContext)} returned: decrements
     * it directly if the coroutine still runs in that count's context (the usual case), else the count of the
     * context it runs in now. Coroutine running in an {@link AioContext}.
     */
    public void readUnlock(Coroutine self, ReaderCount lockedIn) {
        assert self == Coroutine.self() : "GraphLock.readUnlock(" + self + ") called in " + Coroutine.self();
        AioContext now = self.context();
        release(self, lockedIn.context == now ? lockedIn
                : readerCounts.get(readerContext(self, "GraphLock.readUnlock")));
    }

    private void release(Coroutine self, ReaderCount count) {
        if (!self.graphReadUnlocked()) {
            throw new IllegalStateException("GraphLock.readUnlock: " + self + " holds no read lock of the graph '"
                    + name + "' (an unlock without a lock would let the writer in while another reader reads)");
        }
        // Release: this reader's reads of the graph come before the decrement; pairs with the writer's acquire
        // loads of the counts.
        count.decrementRelease();
        // Kick always, even with hasWriter clear: the writer polls with hasWriter clear.
        if (ASYMMETRIC) {
            // No fence: the waiting writer calls Membarrier.barrierAllThreads() before each read of the counts
            // (hasReaders), which orders the decrement above before kickWithoutFence's read of the waiter count.
            AioWait.kickWithoutFence();
        } else {
            // AioWait.kick() starts with a full fence (QEMU's smp_mb in rdunlock): the decrement is visible before
            // it reads the waiter count, which pairs with the writer's volatile increment of that count in
            // AioWait.waitWhile before it reads the reader counts.
            AioWait.kick();
        }
    }

    /**
     * Whether readers run without fences because the writer issues process-wide barriers ({@link Membarrier}).
     * Any thread.
     */
    public static boolean asymmetric() {
        return ASYMMETRIC;
    }

    /**
     * Takes the read lock and returns a scope that releases it: {@code try (var g = lock.readLocked()) {...}}
     * (QEMU's {@code GRAPH_RDLOCK_GUARD}). Allocates nothing. Coroutine running in an {@link AioContext}.
     */
    public ReadLockScope readLocked() {
        readLock();
        return readScope;
    }

    /**
     * The scope returned by {@link #readLocked()}; its {@link #close()} releases the read lock. One stateless
     * instance per lock; {@link #close()} runs in the coroutine that took the lock, as {@link GraphLock#readUnlock()}.
     */
    public static final class ReadLockScope implements AutoCloseable {
        private final GraphLock lock;

        private ReadLockScope(GraphLock lock) {
            this.lock = lock;
        }

        /** {@link GraphLock#readUnlock()}. The coroutine that took the lock. */
        @Override
        public void close() {
            lock.readUnlock();
        }
    }

    /**
     * The main loop's "read lock" (QEMU's {@code bdrv_graph_rdlock_main_loop}): takes nothing, since the main
     * loop is the only writer; it states, and checks with {@code -ea}, that the caller is the main loop's thread
     * outside any coroutine.
     */
    public void readLockMainLoop() {
        assert checkMainLoopReader("GraphLock.readLockMainLoop");
    }

    /** Counterpart of {@link #readLockMainLoop()} (QEMU's {@code bdrv_graph_rdunlock_main_loop}); the same checks. */
    public void readUnlockMainLoop() {
        assert checkMainLoopReader("GraphLock.readUnlockMainLoop");
    }

    /**
     * The context {@code self} runs in: its own record, written by the loop that entered it, never the thread's
     * (see the package documentation on {@link Thread#currentThread()} in coroutines).
     */
    private static AioContext readerContext(Coroutine self, String what) {
        if (self == null) {
            throw new IllegalStateException(what + " called outside a coroutine on " + ThreadRole.describeCurrentThread()
                    + ": graph readers are coroutines (the main loop uses readLockMainLoop)");
        }
        AioContext ctx = self.context();
        if (ctx == null) {
            throw new IllegalStateException(what + ": " + self + " runs in no AioContext, so it has no reader count");
        }
        return ctx;
    }

    private static boolean checkMainLoopReader(String what) {
        if (!MainLoop.isMainThread()) {
            throw new AssertionError(what + " called on " + ThreadRole.describeCurrentThread()
                    + ": only the main loop's thread reads the graph without the read lock");
        }
        if (Coroutine.inCoroutine()) {
            throw new AssertionError(what + " called inside " + Coroutine.self()
                    + ": coroutines take the read lock with readLock()");
        }
        return true;
    }

    // ----------------------------------------------------------------------------------------------------------
    // The writer

    /**
     * Takes the write lock (QEMU's {@code bdrv_graph_wrlock}): quiesces all I/O without polling, then polls the
     * main loop until no reader holds the read lock; new readers sleep until {@link #writeUnlock()}. Main loop
     * thread, outside coroutines. Not reentrant.
     *
     * @throws IllegalStateException on another thread, inside a coroutine, or when the write lock is already held
     */
    public void writeLock() {
        checkWriterThread("GraphLock.writeLock");
        acquireWrite(-1);
    }

    /**
     * {@link #writeLock()} that gives up after {@code timeoutNs} of waiting for readers: returns true holding the
     * write lock, or false holding nothing (readers that slept meanwhile are restarted and I/O is resumed). For
     * watchdogs and tests: a reader that never leaves would otherwise block the main loop for good. Main loop
     * thread, outside coroutines.
     */
    public boolean tryWriteLock(long timeoutNs) {
        if (timeoutNs < 0) {
            throw new IllegalArgumentException("timeoutNs < 0: " + timeoutNs);
        }
        checkWriterThread("GraphLock.tryWriteLock");
        return acquireWrite(timeoutNs);
    }

    /** With {@code timeoutNs < 0}, waits for as long as it takes. */
    private boolean acquireWrite(long timeoutNs) {
        if (hasWriter()) {
            throw new IllegalStateException("the graph '" + name + "' is already write-locked (the write lock is not reentrant)");
        }
        AioContext main = AioContext.main();
        long deadline = main.nowNs() + timeoutNs;
        DrainAll drain = drainAll;
        drain.beginNoPoll(); // new I/O must not starve the writer
        boolean acquired = false;
        try {
            do {
                // hasWriter must be clear while polling: a callback run by the poll that takes the read lock would
                // otherwise sleep until writeUnlock, which never comes while we wait for it.
                // Pairs with the readers' acquire loads of hasWriter: those that see 0 enter without sleeping (no graph
                // change has been made yet).
                HAS_WRITER.setVolatile(this, 0);
                if (timeoutNs < 0) {
                    AioWait.waitWhile(main, this::hasReaders);
                } else if (!AioWait.waitWhile(main, this::hasReaders, Math.max(0, deadline - main.nowNs()))) {
                    return false;
                }
                HAS_WRITER.setVolatile(this, 1);
                // Full fence: hasWriter = 1 is visible before the counts are read, so no reader can get in unseen
                // after they read 0. Pairs with the fence in readLock() between a reader's increment and its read
                // of hasWriter, or with ASYMMETRIC, takes its place: hasReaders() first runs a barrier on every
                // CPU running a reader.
                VarHandle.fullFence();
            } while (hasReaders());
            acquired = true;
            return true;
        } finally {
            if (!acquired) {
                releaseWriter();
            }
            drain.end();
        }
    }

    /**
     * Releases the write lock (QEMU's {@code bdrv_graph_wrunlock}): restarts the readers that slept, each in its
     * own context, then runs the main context's pending BHs. Main loop thread, outside coroutines.
     *
     * @throws IllegalStateException on another thread, inside a coroutine, or when the write lock is not held
     */
    public void writeUnlock() {
        checkWriterThread("GraphLock.writeUnlock");
        if (!hasWriter()) {
            throw new IllegalStateException("GraphLock.writeUnlock: the graph '" + name + "' is not write-locked");
        }
        releaseWriter();
        // BHs scheduled inside the write section (e.g. a deferred node unref) run before the caller goes on.
        AioContext.main().runBottomHalves();
    }

    /** Clears hasWriter and restarts every sleeping reader in its own context. Main loop thread. */
    private void releaseWriter() {
        synchronized (lock) {
            // Release: the write section's graph changes are visible to every reader that loads hasWriter == 0
            // with acquire (readLock's fast and slow paths). Under the monitor, so that a reader in the slow path
            // either sees 0 or is already among the sleepers taken here.
            HAS_WRITER.setRelease(this, 0);
            restarting.addAll(sleepers);
            sleepers.clear();
        }
        // Woken outside the monitor (QEMU's qemu_co_enter_all drops the lock around each wake-up): a sleeper of
        // the main context runs right here and may take the read lock again. Those of other contexts are
        // scheduled there; the monitor's exit/enter orders the deque's contents for them.
        Coroutine co;
        while ((co = restarting.pollFirst()) != null) {
            try {
                co.wake();
            } catch (IllegalStateException contextClosing) {
                // Its context is closing: nothing will enter it there (a known limit of closing an IOThread with
                // coroutines parked). The others must still wake: thrown out of this loop, it left the readers
                // behind it asleep until the next write section, in running IOThreads too (session 26).
                System.getLogger(GraphLock.class.getName()).log(System.Logger.Level.ERROR, "GraphLock '" + name
                        + "': a reader asleep in a closing context is lost: " + contextClosing.getMessage());
            }
        }
    }

    private void checkWriterThread(String what) {
        if (!MainLoop.isMainThread()) {
            throw new IllegalStateException(what + " called on " + ThreadRole.describeCurrentThread()
                    + ": only the main loop's thread writes the graph '" + name + "'");
        }
        if (Coroutine.inCoroutine()) {
            throw new IllegalStateException(what + " called inside " + Coroutine.self()
                    + ": the writer polls the main loop, which a coroutine must not do");
        }
    }

    // ----------------------------------------------------------------------------------------------------------
    // State and assertions

    /** Whether a writer holds the lock or is about to take it (volatile). Any thread. */
    public boolean hasWriter() {
        return (int) HAS_WRITER.getVolatile(this) != 0;
    }

    /**
     * The number of readers holding the lock: the sum of every context's count and of the orphaned count, under
     * {@code lock} (QEMU's {@code reader_count()}). Exact when no reader is on its way in or out; otherwise it may
     * include readers that are backing off for a writer, or, while readers move between contexts, be off for an
     * instant. Any thread.
     */
    public long readerCount() {
        synchronized (lock) {
            long total = orphanedReaders;
            for (ReaderCount c : counts) {
                total += c.getAcquire(); // acquire: pairs with the readers' release decrements
            }
            return total;
        }
    }

    /**
     * The writer's check: are readers left? With {@link #asymmetric()} readers do not fence, so first a barrier on
     * every CPU that runs one of our threads: a reader's count update made before it is visible to the sum below,
     * and a reader that updates its count after it sees hasWriter and the waiter count as they are now (the pairs
     * are in the class comment). Main loop thread.
     */
    private boolean hasReaders() {
        if (ASYMMETRIC) {
            Membarrier.barrierAllThreads();
        }
        return readerCount() >= 1;
    }

    /** How many reader coroutines sleep until the writer leaves. Any thread; for tests and diagnostics. */
    public int sleepingReaders() {
        synchronized (lock) {
            return sleepers.size();
        }
    }

    /** The reader count of {@code ctx} alone, 0 if it never had a reader. Any thread; for tests. */
    long readerCountOf(AioContext ctx) {
        ReaderCount c = readerCounts.getIfPresent(ctx);
        return c == null ? 0 : c.getAcquire();
    }

    /** The summed counts of closed contexts. Any thread; for tests. */
    long orphanedReaderCount() {
        synchronized (lock) {
            return orphanedReaders;
        }
    }

    /**
     * True if the graph may be read here: the caller is the main loop's thread, or some coroutine holds the read
     * lock (QEMU's {@code assert_bdrv_graph_readable}: the total, not this coroutine's, which is not tracked);
     * otherwise throws an {@link AssertionError}. For {@code assert lock.assertReadable();}. Any thread; it
     * takes {@code lock} to sum the counts, so keep it under {@code assert}.
     */
    public boolean assertReadable() {
        if (MainLoop.isMainThread()) {
            return true;
        }
        long readers = readerCount();
        if (readers > 0) {
            return true;
        }
        throw new AssertionError("the graph '" + name + "' is read on " + ThreadRole.describeCurrentThread()
                + " without its read lock (readers: " + readers + ")");
    }

    /**
     * True if the graph may be changed here: the caller is the main loop's thread and holds the write lock (QEMU's
     * {@code assert_bdrv_graph_writable}); otherwise throws an {@link AssertionError}. For
     * {@code assert lock.assertWritable();}. Any thread.
     */
    public boolean assertWritable() {
        if (!MainLoop.isMainThread()) {
            throw new AssertionError("the graph '" + name + "' is changed on " + ThreadRole.describeCurrentThread()
                    + ": only the main loop's thread writes it");
        }
        if (!hasWriter()) {
            throw new AssertionError("the graph '" + name + "' is changed without its write lock");
        }
        return true;
    }

    /** {@link #assertReadable()} of the {@link #global()} lock: {@code assert GraphLock.checkReadable();}. */
    public static boolean checkReadable() {
        return GLOBAL.assertReadable();
    }

    /** {@link #assertWritable()} of the {@link #global()} lock: {@code assert GraphLock.checkWritable();}. */
    public static boolean checkWritable() {
        return GLOBAL.assertWritable();
    }

    // ----------------------------------------------------------------------------------------------------------
    // Context registration (QEMU's register_aiocontext / unregister_aiocontext)

    /** A new context's count, created at its first reader. The thread of that reader (the home thread). */
    private ReaderCount register(AioContext ctx) {
        ReaderCount count = new ReaderCount(ctx);
        synchronized (lock) {
            counts.add(count);
        }
        return count;
    }

    /**
     * A closing context's count: folded into the orphaned count, so the total stays right (a reader that locked
     * there may unlock elsewhere, and one still inside keeps counting). The thread closing the context.
     */
    private void orphan(ReaderCount count) {
        synchronized (lock) {
            orphanedReaders += count.getAcquire(); // acquire: pairs with the readers' release decrements
            counts.remove(count);
        }
    }

    @Override
    public String toString() {
        return "GraphLock[" + name + (hasWriter() ? ", write-locked" : "") + "]";
    }
}
