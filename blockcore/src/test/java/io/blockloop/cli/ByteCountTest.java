package io.blockloop.cli;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link ByteCount} reads numbers as qemu-io 7.2 does. The expected values were read from qemu-io itself
 * ({@code qemu-io -f raw -c 'read 0 VALUE' IMG} prints the byte count it parsed).
 */
class ByteCountTest {
    @Test
    void integersSuffixesAndHex() throws Exception {
        assertEquals(4096, ByteCount.parse("x", "4k"));
        assertEquals(4096, ByteCount.parse("x", "4K"));
        assertEquals(1L << 30, ByteCount.parse("x", "1G"));
        assertEquals(0x1000, ByteCount.parse("x", "0x1000"));
        assertEquals(10, ByteCount.parse("x", "010"), "a leading 0 is decimal, as in qemu-io");
    }

    @Test
    void aPlusSignIsAcceptedAsQemuIoAcceptsIt() throws Exception {
        assertEquals(512, ByteCount.parse("x", "+512"));
        assertEquals(16, ByteCount.parse("x", "+0x10"));
        assertEquals(1536, ByteCount.parse("x", "+1.5k"));
    }

    @Test
    void onlyAsciiDigitsCount() {
        // Arabic-Indic five, full-width 512, Devanagari 4 before a suffix, a sign after 0x, the Kelvin sign as a
        // suffix: qemu-io refuses them all
        for (String bad : new String[]{"\u0665", "\uff15\uff11\uff12", "\u096ak", "1.\u0665k", "0x+200", "0x-1",
                "0x\uff11", "4\u212a", "++1", "+-1", "0x"}) {
            CommandFailure f = assertThrows(CommandFailure.class, () -> ByteCount.parse("x", bad), bad);
            assertTrue(f.getMessage().contains("non-numeric argument, or extraneous/unrecognized suffix -- " + bad),
                    f.getMessage());
        }
    }

    @Test
    void decimalFractionsWithASuffixAsQemuIo() throws Exception {
        assertEquals(1536, ByteCount.parse("x", "1.5k"));
        assertEquals(1331, ByteCount.parse("x", "1.3k"));
        assertEquals(307, ByteCount.parse("x", "0.3k"));
        assertEquals(1049, ByteCount.parse("x", "0.001M"), "rounded to the nearest byte");
        assertEquals(2048, ByteCount.parse("x", "1.99999999k"));
        assertEquals(1024, ByteCount.parse("x", "1.k"));
        assertEquals(2560, ByteCount.parse("x", "2.5K"));
        assertEquals(1572864, ByteCount.parse("x", "1.5m"));
        assertEquals(0, ByteCount.parse("x", "0.0000001k"));
        assertEquals(1, ByteCount.parse("x", "1.0"), "a zero fraction needs no suffix");
        assertEquals(1, ByteCount.parse("x", "1."));
        assertEquals(1, ByteCount.parse("x", "1.0b"));
        assertEquals(1536, ByteCount.parse("x", " 1.5k"));
    }

    /**
     * White space is skipped at the start only, as strtoull skips it for qemu-io: a trailing tab or CR (a script
     * with CRLF line ends) and control characters were dropped by String.trim, and the number taken.
     */
    @Test
    void whiteSpaceCountsOnlyAtTheStart() throws Exception {
        assertEquals(512, ByteCount.parse("x", " \t\n\u000b\f\r512"));
        for (String bad : new String[]{"512\t", "512\r", "512\n", "16 ", "\u0001512", "0x10\t", "1.5K\t"}) {
            CommandFailure f = assertThrows(CommandFailure.class, () -> ByteCount.parse("x", bad), bad);
            assertEquals("x: Parsing error: non-numeric argument, or extraneous/unrecognized suffix -- " + bad,
                    f.getMessage());
        }
    }

    /** A count may have a fraction only when it comes out whole: rounded, 1.0001k would become 1024 unsaid. */
    @Test
    void aCountTakesAFractionOnlyWhenItComesOutWhole() throws Exception {
        assertEquals(1536, ByteCount.parseWhole("x", "1.5k"));
        assertEquals(4096, ByteCount.parseWhole("x", "4k"));
        for (String fraction : new String[]{"1.0001k", "0.3k", "1.99999999k"}) {
            CommandFailure f = assertThrows(CommandFailure.class, () -> ByteCount.parseWhole("x", fraction));
            assertEquals("x: not a whole number -- " + fraction, f.getMessage());
        }
        CommandFailure empty = assertThrows(CommandFailure.class, () -> ByteCount.parseWhole("x", ""));
        assertTrue(empty.getMessage().endsWith("unrecognized suffix -- ''"), empty.getMessage());
    }

    @Test
    void badFractionsAreRefusedAsQemuIoRefusesThem() {
        for (String bad : new String[]{"1.5", "0.5b", "1.5e3k", "0x1.5k", ".5k", "1.5x", "1..5k", "1.5kk", "1.-5k"}) {
            CommandFailure f = assertThrows(CommandFailure.class, () -> ByteCount.parse("x", bad), bad);
            assertTrue(f.getMessage().contains("non-numeric argument, or extraneous/unrecognized suffix -- " + bad),
                    f.getMessage());
        }
        for (String big : new String[]{"8.5E", "15.9999999999999999E"}) {
            CommandFailure f = assertThrows(CommandFailure.class, () -> ByteCount.parse("x", big), big);
            assertTrue(f.getMessage().contains("argument too large -- " + big), f.getMessage());
        }
    }
}
