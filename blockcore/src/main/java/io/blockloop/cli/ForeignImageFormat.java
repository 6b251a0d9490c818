package io.blockloop.cli;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Recognises the headers of the image formats QEMU probes for, which BlockLoop cannot read: what {@code qemu-io}
 * and {@code qemu-img} would open such a file as, when no {@code -f} is given. The magic numbers are those of the
 * formats' specifications (qcow2's {@code QFI\xfb} and its version, QED's {@code QED\0}, VMDK's {@code KDMV} or
 * descriptor text, VDI's signature at offset 0x40, VHDX's {@code vhdxfile}, VHD's {@code conectix}, LUKS's
 * {@code LUKS\xba\xbe}).
 *
 * <p>Stateless; any thread.
 */
public final class ForeignImageFormat {
    /** Bytes of the image's start that {@link #of} needs. */
    public static final int HEADER_BYTES = 512;

    private static final int VDI_SIGNATURE = 0xbeda107f;

    private ForeignImageFormat() {
    }

    /**
     * The format whose header {@code head}, the image's first bytes (up to {@link #HEADER_BYTES}), starts with;
     * null if none.
     */
    public static String of(byte[] head) {
        if (startsWith(head, "QFI\u00fb")) {
            return head.length >= 8 && bigEndianInt(head, 4) == 1 ? "qcow" : "qcow2";
        }
        if (startsWith(head, "QED\0")) {
            return "qed";
        }
        if (startsWith(head, "KDMV") || startsWith(head, "# Disk DescriptorFile")) {
            return "vmdk";
        }
        if (head.length >= 0x44 && littleEndianInt(head, 0x40) == VDI_SIGNATURE) {
            return "vdi";
        }
        if (startsWith(head, "vhdxfile")) {
            return "vhdx";
        }
        if (startsWith(head, "conectix")) {
            return "vpc";
        }
        if (startsWith(head, "LUKS\u00ba\u00be")) {
            return "luks";
        }
        return null;
    }

    /** Whether {@code head} starts with {@code magic}, each char of it one byte (ISO-8859-1). */
    private static boolean startsWith(byte[] head, String magic) {
        byte[] m = magic.getBytes(StandardCharsets.ISO_8859_1);
        return head.length >= m.length && Arrays.equals(head, 0, m.length, m, 0, m.length);
    }

    private static int bigEndianInt(byte[] b, int at) {
        return (b[at] & 0xff) << 24 | (b[at + 1] & 0xff) << 16 | (b[at + 2] & 0xff) << 8 | (b[at + 3] & 0xff);
    }

    private static int littleEndianInt(byte[] b, int at) {
        return Integer.reverseBytes(bigEndianInt(b, at));
    }
}
