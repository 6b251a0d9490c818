package io.blockloop.ffm.liburing;

import io.blockloop.ffm.call.Availability;
import io.blockloop.ffm.errno.Errno;
import io.blockloop.ffm.liburing.generated.LibUring;
import io.blockloop.ffm.liburing.generated.io_uring;
import io.blockloop.ffm.liburing.generated.io_uring_params;
import io.blockloop.ffm.liburing.generated.io_uring_probe;
import io.blockloop.ffm.liburing.generated.io_uring_probe_op;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Whether io_uring can be used in this process, and if not why; and which opcodes the running kernel supports.
 *
 * <p>{@link #availability()} checks, in order: that {@code liburing.so.2} loads (before any generated class is
 * touched); the sysctl {@code kernel.io_uring_disabled} (2 = off for everyone; 1 = only for
 * {@code CAP_SYS_ADMIN} and members of {@code kernel.io_uring_group}); and finally that
 * {@code io_uring_queue_init_params} really creates a ring, which is the only test that also catches seccomp
 * filters (Docker's default profile answers {@code EPERM} since Docker 25), LSMs and kernels without io_uring
 * ({@code ENOSYS}). The sysctl values are only used to explain an {@code EPERM}.
 *
 * <p>Threads: any thread. Both answers are computed once, on first use, under class-initialisation locking,
 * and cached for the life of the JVM (a sysctl changed later is not seen).
 */
public final class IoUringProbe {
    private static final Path DISABLED_SYSCTL = Path.of("/proc/sys/kernel/io_uring_disabled");
    private static final Path GROUP_SYSCTL = Path.of("/proc/sys/kernel/io_uring_group");
    private static final Path STATUS = Path.of("/proc/self/status");
    private static final int CAP_SYS_ADMIN = 21;
    /** Ops slots liburing 2.3's {@code io_uring_get_probe_ring} allocates and asks the kernel to fill. */
    private static final int PROBE_OPS = 256;

    private IoUringProbe() {
    }

    /** Whether io_uring works here; if not, the reason. Cached after the first call. */
    public static Availability availability() {
        return AvailabilityHolder.AVAILABILITY;
    }

    /**
     * Names ({@code "NOP"}, {@code "READV"}, ..., see {@link IoUringOpcodes}) of the opcodes the kernel marks
     * {@code IO_URING_OP_SUPPORTED} in {@code io_uring_get_probe()}, in opcode order. Empty when io_uring is
     * unavailable or the kernel cannot be probed (before 5.6). Unmodifiable; cached.
     */
    public static List<String> supportedOpcodes() {
        return OpcodeHolder.NAMES;
    }

    /** Whether the kernel supports {@code opcode} (an {@code IORING_OP_*} value). False when unavailable. */
    public static boolean supports(int opcode) {
        boolean[] supported = OpcodeHolder.SUPPORTED;
        return opcode >= 0 && opcode < supported.length && supported[opcode];
    }

    /** Lazy holder: probed once, under class-initialisation locking; immutable afterwards, any thread. */
    private static final class AvailabilityHolder {
        static final Availability AVAILABILITY = probe();
    }

    /** Lazy holder: filled once, under class-initialisation locking; read-only afterwards, any thread. */
    private static final class OpcodeHolder {
        static final boolean[] SUPPORTED;
        static final List<String> NAMES;

        static {
            boolean[] supported = new boolean[PROBE_OPS];
            List<String> names = new ArrayList<>();
            if (availability().available()) {
                readProbe(supported, names);
            }
            SUPPORTED = supported;
            NAMES = List.copyOf(names);
        }
    }

    private static Availability probe() {
        if (!IoUringLibrary.isLoaded()) {
            return Availability.no(IoUringLibrary.loadFailure() + "; install liburing2 to use io_uring");
        }
        int disabled = readIntSysctl(DISABLED_SYSCTL);
        int group = readIntSysctl(GROUP_SYSCTL);
        if (disabled == 2) {
            return explain(disabled, group, false, false, -Errno.EPERM);
        }
        int setup;
        try {
            setup = trySetup();
        } catch (LinkageError | RuntimeException e) {
            return Availability.no(IoUringLibrary.SONAME + " is loaded but unusable: " + e);
        }
        if (setup >= 0) {
            return Availability.yes();
        }
        String status = readStatus();
        return explain(disabled, group, hasCapSysAdmin(status), inGroup(status, group), setup);
    }

    /** Creates and destroys a 2-entry ring; returns 0 or {@code -errno}. */
    private static int trySetup() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ring = arena.allocate(io_uring.layout());
            MemorySegment params = arena.allocate(io_uring_params.layout());
            int result = LibUring.io_uring_queue_init_params(2, ring, params);
            if (result >= 0) {
                LibUring.io_uring_queue_exit(ring);
            }
            return result;
        }
    }

    /**
     * Turns what was observed into an answer; pure, so that every branch can be tested on a machine where
     * io_uring works.
     *
     * @param disabled     {@code kernel.io_uring_disabled}, -1 when the sysctl does not exist (before 6.6)
     * @param group        {@code kernel.io_uring_group}, -1 when unset or absent
     * @param capSysAdmin  whether {@code CAP_SYS_ADMIN} is in this process's effective set
     * @param inGroup      whether this process is in {@code group} (fs gid or supplementary)
     * @param setupResult  what {@code io_uring_queue_init_params} returned: 0 or {@code -errno}
     */
    static Availability explain(int disabled, int group, boolean capSysAdmin, boolean inGroup, int setupResult) {
        if (setupResult >= 0) {
            return Availability.yes();
        }
        int errno = -setupResult;
        if (disabled == 2) {
            return Availability.no("io_uring is disabled for all processes by sysctl kernel.io_uring_disabled=2");
        }
        if (errno == Errno.EPERM) {
            if (disabled == 1 && !capSysAdmin && !inGroup) {
                return Availability.no("io_uring_setup: EPERM: sysctl kernel.io_uring_disabled=1 allows io_uring only to"
                        + " CAP_SYS_ADMIN and to members of kernel.io_uring_group"
                        + (group < 0 ? " (unset)" : "=" + group) + ", and this process is neither");
            }
            return Availability.no("io_uring_setup: EPERM: blocked by a seccomp filter or an LSM (Docker's default"
                    + " seccomp profile blocks io_uring since Docker 25; run with --security-opt seccomp=unconfined)");
        }
        if (errno == Errno.ENOSYS) {
            return Availability.no("io_uring_setup: ENOSYS: the kernel has no io_uring (CONFIG_IO_URING=n)"
                    + " or a sandbox filters the system call");
        }
        if (errno == Errno.ENOMEM) {
            return Availability.no("io_uring_queue_init_params: ENOMEM (" + Errno.text(errno) + "); before Linux"
                    + " 5.12 rings count against RLIMIT_MEMLOCK (ulimit -l)");
        }
        return Availability.no("io_uring_queue_init_params: " + Errno.symbol(errno) + " (" + Errno.text(errno) + ")");
    }

    private static void readProbe(boolean[] supported, List<String> names) {
        MemorySegment probe = LibUring.io_uring_get_probe();
        if (probe.equals(MemorySegment.NULL)) {
            return;
        }
        try {
            long opSize = io_uring_probe_op.sizeof();
            MemorySegment bounded = probe.reinterpret(io_uring_probe.sizeof() + PROBE_OPS * opSize);
            int opsLen = Math.min(PROBE_OPS, Byte.toUnsignedInt(io_uring_probe.ops_len(bounded)));
            for (int i = 0; i < opsLen; i++) {
                MemorySegment op = bounded.asSlice(io_uring_probe.ops$offset() + i * opSize, opSize);
                if ((io_uring_probe_op.flags(op) & LibUring.IO_URING_OP_SUPPORTED()) != 0) {
                    int code = Byte.toUnsignedInt(io_uring_probe_op.op(op));
                    supported[code] = true;
                    names.add(IoUringOpcodes.name(code));
                }
            }
        } finally {
            LibUring.io_uring_free_probe(probe);
        }
    }

    private static int readIntSysctl(Path path) {
        try {
            return Integer.parseInt(Files.readString(path).trim());
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
    }

    private static String readStatus() {
        try {
            return Files.readString(STATUS);
        } catch (IOException e) {
            return "";
        }
    }

    private static String statusField(String status, String name) {
        for (String line : status.split("\n")) {
            if (line.startsWith(name + ":")) {
                return line.substring(name.length() + 1).trim();
            }
        }
        return "";
    }

    static boolean hasCapSysAdmin(String status) {
        String capEff = statusField(status, "CapEff");
        if (capEff.isEmpty()) {
            return false;
        }
        try {
            return (Long.parseUnsignedLong(capEff, 16) & (1L << CAP_SYS_ADMIN)) != 0;
        } catch (NumberFormatException e) {
            return false;
        }
    }

    /** The kernel's {@code in_group_p}: the fs gid (4th field of {@code Gid:}) or a supplementary group. */
    static boolean inGroup(String status, int group) {
        if (group < 0) {
            return false;
        }
        String[] gids = statusField(status, "Gid").split("\\s+");
        if (gids.length >= 4 && gids[3].equals(Integer.toString(group))) {
            return true;
        }
        for (String g : statusField(status, "Groups").split("\\s+")) {
            if (g.equals(Integer.toString(group))) {
                return true;
            }
        }
        return false;
    }
}
