package io.blockloop.ffm.liburing;

/**
 * Names of io_uring opcodes ({@code enum io_uring_op}), without the {@code IORING_OP_} prefix: {@code 0 -> "NOP"},
 * {@code 22 -> "READ"}.
 *
 * <p>The table is written by hand so that naming an opcode never needs {@code liburing.so.2} (the generated
 * {@code LibUring} constants live in a class whose initialiser loads the library). Entries 0 to 48 are the
 * opcodes of liburing 2.3's {@code liburing/io_uring.h}, the header the bindings are generated from; a test checks
 * them against the generated {@code LibUring.IORING_OP_*()} constants. Entries from 49 on are the opcodes newer
 * kernels added after liburing 2.3 (names as in the kernel uapi header up to {@code IORING_OP_URING_CMD128}), so
 * that a probe of a newer kernel can still be printed. Unknown numbers are named {@code "OP_<n>"}.
 *
 * <p>Thread safety: stateless; any thread.
 */
public final class IoUringOpcodes {
    /** Number of opcodes liburing 2.3's header knows ({@code IORING_OP_LAST} there). */
    public static final int LIBURING_2_3_LAST = 49;

    private static final String[] NAMES = {
            // liburing 2.3 (IORING_OP_NOP .. IORING_OP_SENDMSG_ZC)
            "NOP", "READV", "WRITEV", "FSYNC", "READ_FIXED", "WRITE_FIXED", "POLL_ADD", "POLL_REMOVE",
            "SYNC_FILE_RANGE", "SENDMSG", "RECVMSG", "TIMEOUT", "TIMEOUT_REMOVE", "ACCEPT", "ASYNC_CANCEL",
            "LINK_TIMEOUT", "CONNECT", "FALLOCATE", "OPENAT", "CLOSE", "FILES_UPDATE", "STATX", "READ", "WRITE",
            "FADVISE", "MADVISE", "SEND", "RECV", "OPENAT2", "EPOLL_CTL", "SPLICE", "PROVIDE_BUFFERS",
            "REMOVE_BUFFERS", "TEE", "SHUTDOWN", "RENAMEAT", "UNLINKAT", "MKDIRAT", "SYMLINKAT", "LINKAT",
            "MSG_RING", "FSETXATTR", "SETXATTR", "FGETXATTR", "GETXATTR", "SOCKET", "URING_CMD", "SEND_ZC",
            "SENDMSG_ZC",
            // added by later kernels
            "READ_MULTISHOT", "WAITID", "FUTEX_WAIT", "FUTEX_WAKE", "FUTEX_WAITV", "FIXED_FD_INSTALL",
            "FTRUNCATE", "BIND", "LISTEN", "RECV_ZC", "EPOLL_WAIT", "READV_FIXED", "WRITEV_FIXED", "PIPE",
            "NOP128", "URING_CMD128",
    };

    private IoUringOpcodes() {
    }

    /** The name of {@code opcode} without the {@code IORING_OP_} prefix, or {@code "OP_<n>"} when unknown. */
    public static String name(int opcode) {
        return opcode >= 0 && opcode < NAMES.length ? NAMES[opcode] : "OP_" + opcode;
    }

    /** The opcode named {@code name} (with or without the {@code IORING_OP_} prefix), or -1 when unknown. */
    public static int opcode(String name) {
        String bare = name.startsWith("IORING_OP_") ? name.substring("IORING_OP_".length()) : name;
        for (int i = 0; i < NAMES.length; i++) {
            if (NAMES[i].equals(bare)) {
                return i;
            }
        }
        return -1;
    }

    /** How many opcodes this table names (one past the highest known opcode). */
    public static int known() {
        return NAMES.length;
    }
}
