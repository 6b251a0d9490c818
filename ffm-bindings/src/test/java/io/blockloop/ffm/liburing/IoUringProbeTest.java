package io.blockloop.ffm.liburing;

import io.blockloop.ffm.call.Availability;
import io.blockloop.ffm.errno.Errno;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class IoUringProbeTest {

    @Test
    void ioUringIsAvailableOnThisMachine() {
        Availability availability = IoUringProbe.availability();
        assertTrue(availability.available(), availability::reason);
        assertNull(availability.reason());
        assertSame(availability, IoUringProbe.availability(), "the answer is cached");
    }

    @Test
    void theKernelSupportsTheOpcodesBlockLoopUses() {
        List<String> ops = IoUringProbe.supportedOpcodes();
        for (String op : List.of("NOP", "READ", "WRITE", "READV", "WRITEV", "FSYNC", "POLL_ADD", "POLL_REMOVE",
                "TIMEOUT", "ASYNC_CANCEL", "READ_FIXED", "WRITE_FIXED")) {
            assertTrue(ops.contains(op), op + " missing from " + ops);
            assertTrue(IoUringProbe.supports(IoUringOpcodes.opcode(op)), op);
        }
        assertEquals("NOP", ops.getFirst(), "in opcode order");
        assertFalse(IoUringProbe.supports(-1));
        assertFalse(IoUringProbe.supports(255));
        assertThrows(UnsupportedOperationException.class, () -> ops.add("X"));
    }

    @Test
    void aWorkingSetupIsAvailableWhateverTheSysctls() {
        assertTrue(IoUringProbe.explain(1, -1, true, false, 0).available(), "CAP_SYS_ADMIN passes =1");
        assertTrue(IoUringProbe.explain(-1, -1, false, false, 0).available(), "no sysctl before 6.6");
    }

    @Test
    void sysctlTwoDisablesIoUringForEveryone() {
        Availability a = IoUringProbe.explain(2, -1, true, true, -Errno.EPERM);
        assertFalse(a.available());
        assertTrue(a.reason().contains("kernel.io_uring_disabled=2"), a.reason());
    }

    @Test
    void sysctlOneOutsideTheGroupExplainsEperm() {
        Availability a = IoUringProbe.explain(1, 1234, false, false, -Errno.EPERM);
        assertFalse(a.available());
        assertTrue(a.reason().contains("kernel.io_uring_disabled=1"), a.reason());
        assertTrue(a.reason().contains("io_uring_group=1234"), a.reason());
    }

    @Test
    void epermWithoutASysctlReasonIsBlamedOnSeccomp() {
        for (Availability a : List.of(IoUringProbe.explain(0, -1, false, false, -Errno.EPERM),
                IoUringProbe.explain(1, 1234, false, true, -Errno.EPERM))) {
            assertFalse(a.available());
            assertTrue(a.reason().startsWith("io_uring_setup: EPERM"), a.reason());
            assertTrue(a.reason().contains("seccomp"), a.reason());
        }
    }

    @Test
    void enosysAndOtherErrorsAreNamed() {
        Availability nosys = IoUringProbe.explain(-1, -1, false, false, -Errno.ENOSYS);
        assertTrue(nosys.reason().startsWith("io_uring_setup: ENOSYS"), nosys.reason());
        Availability nomem = IoUringProbe.explain(0, -1, false, false, -Errno.ENOMEM);
        assertTrue(nomem.reason().contains("RLIMIT_MEMLOCK"), nomem.reason());
        Availability other = IoUringProbe.explain(0, -1, false, false, -Errno.EINVAL);
        assertTrue(other.reason().startsWith("io_uring_queue_init_params: EINVAL"), other.reason());
    }

    @Test
    void credentialsAreReadFromProcStatus() {
        String status = "Name:\tjava\nGid:\t100\t100\t100\t1001\nGroups:\t4 24 27 \nCapEff:\t0000000000200000\n";
        assertTrue(IoUringProbe.hasCapSysAdmin(status));
        assertFalse(IoUringProbe.hasCapSysAdmin("CapEff:\t00000000001fffff\n"));
        assertTrue(IoUringProbe.inGroup(status, 1001), "fs gid");
        assertTrue(IoUringProbe.inGroup(status, 27), "supplementary group");
        assertFalse(IoUringProbe.inGroup(status, 100 + 1));
        assertFalse(IoUringProbe.inGroup(status, -1));
    }
}
