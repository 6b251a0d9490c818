package io.blockloop.ffm.libc;

import io.blockloop.ffm.call.Availability;
import io.blockloop.ffm.call.ErrnoCapture;
import io.blockloop.ffm.call.NativeLibrary;
import io.blockloop.ffm.errno.Errno;
import io.blockloop.ffm.errno.NativeCallException;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * {@code membarrier(2)} with {@code MEMBARRIER_CMD_PRIVATE_EXPEDITED} (Linux 4.14+): a full memory barrier on every
 * CPU that runs a thread of this process, issued by one thread for all of them (by IPI, about a microsecond).
 * It lets a fast path that runs often drop its fences when the slow path that pairs with it is rare: the fast
 * side orders its accesses only against the compiler, the slow side calls {@link #barrierAllThreads()} between
 * its store and its load (the asymmetric Dekker of userspace RCU and of the JDK's own thread-local handshakes).
 *
 * <p>glibc has no wrapper; the call goes through {@code syscall(2)} with {@code __NR_membarrier} (324 on x86-64,
 * 283 on arm64). The process registers its intent once ({@code MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED});
 * {@link #availability()} does that and says why it failed (old kernel, seccomp, another architecture).
 *
 * <p>Threads: any thread.
 */
public final class Membarrier {
    private static final int CMD_QUERY = 0;
    private static final int CMD_PRIVATE_EXPEDITED = 1 << 3;
    private static final int CMD_REGISTER_PRIVATE_EXPEDITED = 1 << 4;

    private static final MethodHandle SYSCALL = NativeLibrary.libc().downcall("syscall",
            FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT),
            Linker.Option.captureCallState("errno"), Linker.Option.firstVariadicArg(1));

    private static final long NR_MEMBARRIER = switch (System.getProperty("os.arch")) {
        case "amd64", "x86_64" -> 324;
        case "aarch64" -> 283;
        default -> -1;
    };

    private static final Availability AVAILABILITY = register();

    private Membarrier() {
    }

    /**
     * Whether {@link #barrierAllThreads()} works in this process (registered at class initialisation) and, if
     * not, why. Any thread.
     */
    public static Availability availability() {
        return AVAILABILITY;
    }

    /**
     * A full memory barrier on every CPU running a thread of this process, and in the caller. Returns only after
     * all of them executed it. Any thread.
     *
     * @throws IllegalStateException when unavailable ({@link #availability()})
     * @throws NativeCallException   when the kernel refuses (not expected once registered)
     */
    public static void barrierAllThreads() {
        if (!AVAILABILITY.available()) {
            throw new IllegalStateException("membarrier is unavailable: " + AVAILABILITY.reason());
        }
        long r = call(CMD_PRIVATE_EXPEDITED);
        if (r < 0) {
            throw new NativeCallException("membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)", (int) -r);
        }
    }

    private static Availability register() {
        if (NR_MEMBARRIER < 0) {
            return Availability.no("no membarrier system call number for architecture " + System.getProperty("os.arch"));
        }
        try {
            long commands = call(CMD_QUERY);
            if (commands < 0) {
                return Availability.no("membarrier(MEMBARRIER_CMD_QUERY) failed: " + Errno.symbol((int) -commands));
            }
            if ((commands & CMD_PRIVATE_EXPEDITED) == 0) {
                return Availability.no("the kernel does not offer MEMBARRIER_CMD_PRIVATE_EXPEDITED (Linux 4.14+)");
            }
            long r = call(CMD_REGISTER_PRIVATE_EXPEDITED);
            if (r < 0) {
                return Availability.no("membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) failed: "
                        + Errno.symbol((int) -r));
            }
            return Availability.yes();
        } catch (UnsatisfiedLinkError e) {
            return Availability.no(e.getMessage());
        }
    }

    /** The result, or {@code -errno}. */
    private static long call(int command) {
        MemorySegment errno = ErrnoCapture.segment();
        try {
            long r = (long) SYSCALL.invokeExact(errno, NR_MEMBARRIER, command, 0, 0);
            return r < 0 ? -ErrnoCapture.errno(errno) : r;
        } catch (Throwable t) {
            throw FileIo.rethrow(t);
        }
    }
}
