package io.blockloop.cli;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/** The headers QEMU would open as another format, and raw data that must not be mistaken for one. */
class ForeignImageFormatTest {
    private static byte[] header(String magic) {
        return Arrays.copyOf(magic.getBytes(StandardCharsets.ISO_8859_1), ForeignImageFormat.HEADER_BYTES);
    }

    @Test
    void eachFormatsMagicIsRecognised() {
        assertEquals("qcow2", ForeignImageFormat.of(header("QFI\u00fb\0\0\0\3")));
        assertEquals("qcow2", ForeignImageFormat.of(header("QFI\u00fb\0\0\0\2")));
        assertEquals("qcow", ForeignImageFormat.of(header("QFI\u00fb\0\0\0\1")));
        assertEquals("qed", ForeignImageFormat.of(header("QED\0")));
        assertEquals("vmdk", ForeignImageFormat.of(header("KDMV")));
        assertEquals("vmdk", ForeignImageFormat.of(header("# Disk DescriptorFile\nversion=1")));
        assertEquals("vhdx", ForeignImageFormat.of(header("vhdxfile")));
        assertEquals("vpc", ForeignImageFormat.of(header("conectix")));
        assertEquals("luks", ForeignImageFormat.of(header("LUKS\u00ba\u00be")));
        byte[] vdi = header("<<< Oracle VM VirtualBox Disk Image >>>\n");
        vdi[0x40] = 0x7f;
        vdi[0x41] = 0x10;
        vdi[0x42] = (byte) 0xda;
        vdi[0x43] = (byte) 0xbe;
        assertEquals("vdi", ForeignImageFormat.of(vdi));
    }

    @Test
    void rawDataAndShortImagesAreNoneOfThem() {
        assertNull(ForeignImageFormat.of(new byte[ForeignImageFormat.HEADER_BYTES]));
        assertNull(ForeignImageFormat.of(new byte[0]));
        assertNull(ForeignImageFormat.of(header("QFI")), "a prefix of a magic is not the magic");
        assertNull(ForeignImageFormat.of(header("qfi\u00fb")));
        byte[] mbr = new byte[ForeignImageFormat.HEADER_BYTES];
        mbr[510] = 0x55;
        mbr[511] = (byte) 0xaa;
        assertNull(ForeignImageFormat.of(mbr), "a partitioned disk is raw");
    }
}
