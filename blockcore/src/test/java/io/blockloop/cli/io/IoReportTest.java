package io.blockloop.cli.io;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** qemu-io 7.2's number formatting ({@code cvtstr}, {@code timestr}, {@code printf} rounding) in {@link IoReport}. */
class IoReportTest {

    @Test
    void sizesAsCvtstr() {
        assertEquals("0 bytes", IoReport.size(0));
        assertEquals("1 bytes", IoReport.size(1));
        assertEquals("512 bytes", IoReport.size(512));
        assertEquals("1023 bytes", IoReport.size(1023));
        assertEquals("767.293452 bytes", IoReport.size(767.293452));
        assertEquals("0.614482 bytes", IoReport.size(0.6144823));
        assertEquals("1 KiB", IoReport.size(1024));
        assertEquals("1.500 KiB", IoReport.size(1536));
        assertEquals("64 KiB", IoReport.size(65536));
        assertEquals("1 MiB", IoReport.size(1 << 20));
        assertEquals("3.433 MiB", IoReport.size(3.4333 * (1 << 20)));
        assertEquals("1 GiB", IoReport.size(1L << 30));
        assertEquals("2 EiB", IoReport.size(2.0 * (1L << 60)));
        assertEquals("inf EiB", IoReport.size(Double.POSITIVE_INFINITY));
    }

    @Test
    void timesAsTimestr() {
        assertEquals("00.00 sec", IoReport.time(0, 0, false));
        assertEquals("00.01 sec", IoReport.time(0, 5_000_000, false), "0.005 is a hair above a half in binary");
        assertEquals("00.12 sec", IoReport.time(0, 123_456_789, false));
        assertEquals("01.00 sec", IoReport.time(0, 999_999_999, false));
        assertEquals("0:00:01.50", IoReport.time(1, 500_000_000, false));
        assertEquals("1:02:05.25", IoReport.time(3725, 250_000_000, false));
        assertEquals("0:00:00.00", IoReport.time(0, 0, true));
    }

    @Test
    void roundingIsGlibcs() {
        assertEquals("0.12", IoReport.fixed(0.125, 2), "exact tie: to even");
        assertEquals("0.38", IoReport.fixed(0.375, 2), "exact tie: to even");
        assertEquals("1.000", IoReport.fixed(1.0005, 3), "1.0005 is below the tie in binary");
        assertEquals("7030.9735", IoReport.fixed(7030.97354, 4));
        assertEquals("inf", IoReport.fixed(Double.POSITIVE_INFINITY, 4));
    }

    @Test
    void reportLines() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
        IoReport.print(out, "read", 250_000_000L, 4096, 512, 512, 1, false);
        IoReport.print(out, "wrote", 2_000_000_000L, 0, 1 << 20, 1 << 20, 1, true);
        assertEquals("""
                read 512/512 bytes at offset 4096
                512 bytes, 1 ops; 00.25 sec (2 KiB/sec and 4.0000 ops/sec)
                1048576,1,0:00:02.00,524288.000,0.500
                """, bytes.toString(StandardCharsets.UTF_8));
    }
}
