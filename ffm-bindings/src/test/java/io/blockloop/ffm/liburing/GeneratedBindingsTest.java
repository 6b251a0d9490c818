package io.blockloop.ffm.liburing;

import io.blockloop.ffm.liburing.generated.LibUring;
import io.blockloop.ffm.liburing.generated.__kernel_timespec;
import io.blockloop.ffm.liburing.generated.io_uring;
import io.blockloop.ffm.liburing.generated.io_uring_cq;
import io.blockloop.ffm.liburing.generated.io_uring_cqe;
import io.blockloop.ffm.liburing.generated.io_uring_params;
import io.blockloop.ffm.liburing.generated.io_uring_probe;
import io.blockloop.ffm.liburing.generated.io_uring_probe_op;
import io.blockloop.ffm.liburing.generated.io_uring_sq;
import io.blockloop.ffm.liburing.generated.io_uring_sqe;
import io.blockloop.ffm.liburing.generated.iovec;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.lang.reflect.Method;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The jextract output against the C ABI: sizes and offsets as printed by a C program compiled with clang-14
 * against liburing-dev 2.3 on x86-64 ({@code sizeof}/{@code offsetof}), and the opcode name table against the
 * generated {@code IORING_OP_*} constants.
 */
class GeneratedBindingsTest {

    @BeforeAll
    static void libraryLoads() {
        assertTrue(IoUringLibrary.isLoaded(), IoUringLibrary::loadFailure);
    }

    @Test
    void structSizesMatchTheCAbi() {
        assertEquals(216, io_uring.sizeof());
        assertEquals(104, io_uring_sq.sizeof());
        assertEquals(88, io_uring_cq.sizeof());
        assertEquals(64, io_uring_sqe.sizeof());
        assertEquals(16, io_uring_cqe.sizeof());
        assertEquals(120, io_uring_params.sizeof());
        assertEquals(16, io_uring_probe.sizeof());
        assertEquals(8, io_uring_probe_op.sizeof());
        assertEquals(16, __kernel_timespec.sizeof());
        assertEquals(16, iovec.sizeof());
    }

    @Test
    void fieldOffsetsMatchTheCAbi() {
        assertEquals(8, io_uring_sqe.off$offset());
        assertEquals(16, io_uring_sqe.addr$offset());
        assertEquals(24, io_uring_sqe.len$offset());
        assertEquals(28, io_uring_sqe.rw_flags$offset());
        assertEquals(32, io_uring_sqe.user_data$offset());
        assertEquals(40, io_uring_sqe.buf_index$offset());
        assertEquals(42, io_uring_sqe.personality$offset());
        assertEquals(44, io_uring_sqe.file_index$offset());
        assertEquals(48, io_uring_sqe.addr3$offset());
        assertEquals(104, io_uring.cq$offset());
        assertEquals(192, io_uring.flags$offset());
        assertEquals(196, io_uring.ring_fd$offset());
        assertEquals(200, io_uring.features$offset());
        assertEquals(204, io_uring.enter_ring_fd$offset());
        assertEquals(208, io_uring.int_flags$offset());
        assertEquals(64, io_uring_sq.sqe_head$offset());
        assertEquals(68, io_uring_sq.sqe_tail$offset());
        assertEquals(88, io_uring_sq.ring_mask$offset());
    }

    @Test
    void opcodeNamesMatchTheGeneratedConstants() throws ReflectiveOperationException {
        assertEquals(IoUringOpcodes.LIBURING_2_3_LAST, LibUring.IORING_OP_LAST());
        for (int op = 0; op < LibUring.IORING_OP_LAST(); op++) {
            Method constant = LibUring.class.getMethod("IORING_OP_" + IoUringOpcodes.name(op));
            assertEquals(op, (int) constant.invoke(null), IoUringOpcodes.name(op));
        }
        assertEquals(22, IoUringOpcodes.opcode("READ"));
        assertEquals(22, IoUringOpcodes.opcode("IORING_OP_READ"));
        assertEquals(-1, IoUringOpcodes.opcode("NO_SUCH_OP"));
        assertEquals("OP_200", IoUringOpcodes.name(200));
    }

    @Test
    void flagConstantsHaveTheirUapiValues() {
        assertEquals(1, LibUring.IORING_SETUP_IOPOLL());
        assertEquals(2, LibUring.IORING_SETUP_SQPOLL());
        assertEquals(1 << 12, LibUring.IORING_SETUP_SINGLE_ISSUER());
        assertEquals(1 << 13, LibUring.IORING_SETUP_DEFER_TASKRUN());
        assertEquals(1 << 4, LibUring.IORING_ENTER_REGISTERED_RING());
        assertEquals(1, LibUring.IOSQE_FIXED_FILE());
        assertEquals(1 << 6, LibUring.IOSQE_CQE_SKIP_SUCCESS());
        assertEquals(1, LibUring.IORING_FSYNC_DATASYNC());
        assertEquals(1 << 8, LibUring.IORING_FEAT_EXT_ARG());
        assertEquals(1, LibUring.IORING_SQ_NEED_WAKEUP());
        assertEquals(2, LibUring.IORING_SQ_CQ_OVERFLOW());
        assertEquals(2, LibUring.IORING_CQE_F_MORE());
        assertEquals(1, LibUring.IO_URING_OP_SUPPORTED());
    }
}
