package io.blockloop.cli.io;

import java.io.PrintStream;
import java.math.BigDecimal;
import java.math.RoundingMode;

/**
 * qemu-io's report of a finished request ({@code print_report}), character for character as the qemu-io of
 * Debian 12 (QEMU 7.2) prints it:
 * <pre>
 * read 512/512 bytes at offset 0
 * 512 bytes, 1 ops; 00.00 sec (3.433 MiB/sec and 7030.9735 ops/sec)
 * </pre>
 * or, with {@code -C}, {@code bytes,ops,time,bytes/sec,ops/sec} ({@code 512,1,0:00:00.00,3600000.000,7031.250}).
 * Sizes are written as {@code cvtstr} does (1024-based, three decimals, {@code .000} dropped), times as
 * {@code timestr} does ({@code SS.ss sec} under a second, {@code H:MM:SS.ss} from one second on), and every
 * number is rounded as glibc's {@code printf} rounds it (the exact binary value, ties to even).
 *
 * <p>Threads: stateless; any thread.
 */
final class IoReport {
    private static final String[] UNITS = {" EiB", " PiB", " TiB", " GiB", " MiB", " KiB"};
    private static final int[] SHIFTS = {60, 50, 40, 30, 20, 10};

    private IoReport() {
    }

    /**
     * Prints the two report lines (or the CSV line).
     *
     * @param op        {@code read}, {@code wrote} or {@code discard}
     * @param elapsedNs how long the request took
     * @param offset    where it started
     * @param count     bytes asked
     * @param total     bytes done
     * @param ops       requests it counted as
     * @param csv       {@code -C}
     */
    static void print(PrintStream out, String op, long elapsedNs, long offset, long count, long total, int ops,
                      boolean csv) {
        long sec = elapsedNs / 1_000_000_000L;
        long nsec = elapsedNs % 1_000_000_000L;
        double seconds = (double) sec + ((double) nsec / 1e9);
        String time = time(sec, nsec, csv);
        if (csv) {
            out.println(total + "," + ops + "," + time + "," + fixed(total / seconds, 3) + "," + fixed(ops / seconds, 3));
            return;
        }
        out.println(op + " " + total + "/" + count + " bytes at offset " + offset);
        out.println(size(total) + ", " + ops + " ops; " + time + " (" + size(total / seconds) + "/sec and "
                + fixed(ops / seconds, 4) + " ops/sec)");
    }

    /** qemu-io's {@code cvtstr}: {@code 512 bytes}, {@code 4 KiB}, {@code 1.500 MiB}, {@code 767.293452 bytes}. */
    static String size(double value) {
        String number = null;
        String suffix = " bytes";
        for (int i = 0; i < UNITS.length; i++) {
            double unit = (double) (1L << SHIFTS[i]);
            if (value >= unit) {
                number = fixed(value / unit, 3);
                suffix = UNITS[i];
                break;
            }
        }
        if (number == null) {
            number = fixed(value, 6);
        }
        int trim = number.indexOf(".000");
        return (trim >= 0 ? number.substring(0, trim) : number) + suffix;
    }

    /** qemu-io 7.2's {@code timestr}: {@code 00.00 sec} below a second, else {@code H:MM:SS.ss}; always the latter for CSV. */
    static String time(long sec, long nsec, boolean verbose) {
        double fraction = nsec / 1e9;
        if (verbose || sec != 0) {
            return (sec / 3600) + ":" + twoDigits((sec % 3600) / 60) + ":" + zeroPadded((sec % 60) + fraction, 5, 2);
        }
        return zeroPadded(fraction, 5, 2) + " sec";
    }

    /** C's {@code %.Nf}: the exact binary value rounded half to even; {@code inf}, {@code nan} as glibc prints them. */
    static String fixed(double value, int decimals) {
        if (Double.isNaN(value)) {
            return "-nan".substring(Double.doubleToRawLongBits(value) < 0 ? 0 : 1);
        }
        if (Double.isInfinite(value)) {
            return value > 0 ? "inf" : "-inf";
        }
        String s = new BigDecimal(value).setScale(decimals, RoundingMode.HALF_EVEN).toPlainString();
        if (value < 0 || (value == 0 && 1 / value < 0)) {
            return s.startsWith("-") ? s : "-" + s;
        }
        return s;
    }

    /** C's {@code %0W.Nf}. */
    private static String zeroPadded(double value, int width, int decimals) {
        String s = fixed(value, decimals);
        StringBuilder b = new StringBuilder(s);
        while (b.length() < width) {
            b.insert(0, '0');
        }
        return b.toString();
    }

    private static String twoDigits(long v) {
        return v < 10 ? "0" + v : Long.toString(v);
    }
}
