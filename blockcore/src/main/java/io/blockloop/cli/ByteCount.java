package io.blockloop.cli;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.math.RoundingMode;

import java.util.Locale;

/**
 * Parses the byte counts and offsets of the command line as QEMU's {@code cvtnum} does: a decimal (or {@code 0x}
 * hexadecimal) number with an optional 1024-based suffix {@code b k K M G T P E} ({@code 4k} = 4096; a decimal
 * fraction with a suffix, {@code 1.5k} = 1536), with the messages {@code qemu-io} prints for bad ones.
 *
 * <p>Stateless; any thread.
 */
public final class ByteCount {
    private ByteCount() {
    }

    /**
     * The value of {@code text}; {@code what} names the argument in the message.
     *
     * @throws CommandFailure (usage) "Parsing error: non-numeric argument, or extraneous/unrecognized suffix -- X",
     *                        or "argument too large -- X"
     */
    public static long parse(String what, String text) throws CommandFailure {
        return parse(what, text, false);
    }

    /**
     * {@link #parse}, for a count rather than bytes: a fraction must come out whole ({@code 1.5k} = 1536 is taken,
     * {@code 1.0001k} is refused; {@link #parse} rounds it to 1024 without a word).
     *
     * @throws CommandFailure (usage) as {@link #parse}, or "not a whole number -- X"
     */
    public static long parseWhole(String what, String text) throws CommandFailure {
        return parse(what, text, true);
    }

    private static long parse(String what, String text, boolean whole) throws CommandFailure {
        String t = withoutLeadingSpace(text);
        if (t.length() > 1 && t.charAt(0) == '+' && isDigit(t.charAt(1))) {
            t = t.substring(1); // a plus sign, as strtoull (and so qemu-io) accepts it
        }
        if (t.isEmpty()) {
            throw nonNumeric(what, text);
        }
        int shift = 0;
        char last = t.charAt(t.length() - 1);
        boolean hex = t.toLowerCase(Locale.ROOT).startsWith("0x");
        if (!isDigit(last) && last != '.' && !(hex && isHexDigit(last))) {
            shift = switch (last) { // ASCII only: Character.toLowerCase would turn the Kelvin sign into 'k'
                case 'b', 'B' -> 0;
                case 'k', 'K' -> 10;
                case 'm', 'M' -> 20;
                case 'g', 'G' -> 30;
                case 't', 'T' -> 40;
                case 'p', 'P' -> 50;
                case 'e', 'E' -> 60;
                default -> throw nonNumeric(what, text);
            };
            t = t.substring(0, t.length() - 1);
        }
        int dot = hex ? -1 : t.indexOf('.');
        if (dot >= 0) {
            return withFraction(what, text, t.substring(0, dot), t.substring(dot + 1), shift, whole);
        }
        // Only ASCII digits: Long.parseLong would also take other scripts' digits and a sign after "0x".
        String digits = hex ? t.substring(2) : t.startsWith("-") ? t.substring(1) : t;
        if (digits.isEmpty() || !digits.chars().allMatch(c -> hex ? isHexDigit((char) c) : isDigit((char) c))) {
            throw nonNumeric(what, text);
        }
        long value;
        try {
            value = hex ? Long.parseLong(digits, 16) : Long.parseLong(t);
        } catch (NumberFormatException e) {
            throw tooLarge(what, text); // only digits are left, so the number does not fit
        }
        if (value < 0) {
            throw CommandFailure.usage(what + ": negative value -- " + text);
        }
        if (shift > 0 && value > (Long.MAX_VALUE >> shift)) {
            throw tooLarge(what, text);
        }
        return value << shift;
    }

    /**
     * A decimal fraction, as QEMU's {@code qemu_strtosz}: digits before the point, any digits after it, and a
     * suffix above bytes unless the fraction is zero ({@code 1.5k} = 1536, {@code 1.} = 1, {@code 1.5} refused);
     * the fractional bytes are rounded to the nearest ({@code 0.001M} = 1049, as qemu-io reads it).
     */
    private static long withFraction(String what, String text, String integral, String fraction, int shift,
                                     boolean whole) throws CommandFailure {
        if (integral.isEmpty() || !integral.chars().allMatch(c -> isDigit((char) c))
                || !fraction.chars().allMatch(c -> isDigit((char) c))) {
            throw nonNumeric(what, text);
        }
        BigDecimal exact = new BigDecimal(integral + "." + (fraction.isEmpty() ? "0" : fraction));
        if (shift == 0 && exact.stripTrailingZeros().scale() > 0) {
            throw nonNumeric(what, text); // a fraction of a byte
        }
        BigDecimal scaled = exact.multiply(BigDecimal.valueOf(2).pow(shift));
        if (whole && scaled.stripTrailingZeros().scale() > 0) {
            throw CommandFailure.usage(what + ": not a whole number -- " + text);
        }
        BigInteger bytes = scaled.setScale(0, RoundingMode.HALF_UP).toBigIntegerExact();
        if (bytes.bitLength() > 63) {
            throw tooLarge(what, text);
        }
        return bytes.longValue();
    }

    /** Prints {@code bytes} as qemu-io's {@code cvtstr}: "4 KiB", "1.500 MiB", "512 bytes". */
    public static String format(long bytes) {
        String[] units = {"EiB", "PiB", "TiB", "GiB", "MiB", "KiB"};
        int[] shifts = {60, 50, 40, 30, 20, 10};
        for (int i = 0; i < units.length; i++) {
            long unit = 1L << shifts[i];
            if (bytes >= unit) {
                String number = String.format(Locale.ROOT, "%.3f", (double) bytes / unit);
                if (number.endsWith(".000")) {
                    number = number.substring(0, number.length() - 4);
                }
                return number + " " + units[i];
            }
        }
        return bytes + " bytes";
    }

    /**
     * {@code text} without the white space C's {@code isspace} skips at its start, as {@code strtoull} does for
     * qemu-io. Only at the start: {@link String#trim} also dropped a trailing tab or CR (a script with CRLF line
     * ends) and control characters, which qemu-io refuses.
     */
    private static String withoutLeadingSpace(String text) {
        int i = 0;
        while (i < text.length() && " \t\n\u000b\f\r".indexOf(text.charAt(i)) >= 0) {
            i++;
        }
        return text.substring(i);
    }

    /** An ASCII decimal digit ({@link Character#isDigit} would take any script's). */
    private static boolean isDigit(char c) {
        return c >= '0' && c <= '9';
    }

    /** An ASCII hexadecimal digit. */
    private static boolean isHexDigit(char c) {
        return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    }

    private static CommandFailure nonNumeric(String what, String text) {
        return CommandFailure.usage(what + ": Parsing error: non-numeric argument, or extraneous/unrecognized suffix -- "
                + (text.isEmpty() ? "''" : text)); // an empty value named, not a message that stops at the dashes
    }

    private static CommandFailure tooLarge(String what, String text) {
        return CommandFailure.usage(what + ": argument too large -- " + text);
    }
}
