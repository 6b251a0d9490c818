package io.blockloop.cli;

/**
 * Reads a pattern byte as QEMU's tools do, C's {@code strtol(text, &end, 0)} over the whole word: leading white
 * space, a sign, {@code 0x} for hexadecimal and a leading {@code 0} for octal ({@code 010} is 8, {@code 0x10} 16),
 * 0 to 255. {@code qemu-io}'s {@code -P} and {@code qemu-img bench}'s {@code --pattern} both read it so.
 *
 * <p>Stateless; any thread.
 */
public final class PatternByte {
    private PatternByte() {
    }

    /** The byte {@code text} names, or -1 when it names none (not a whole number, or outside 0 to 255). */
    public static int parse(String text) {
        long value = strtolBase0(text);
        return value < 0 || value > 255 ? -1 : (int) value;
    }

    /** C's {@code strtol(text, &end, 0)}; -1 when {@code end} would not reach the end of the text. */
    private static long strtolBase0(String text) {
        int i = 0;
        int n = text.length();
        while (i < n && isCSpace(text.charAt(i))) {
            i++;
        }
        boolean negative = false;
        if (i < n && (text.charAt(i) == '+' || text.charAt(i) == '-')) {
            negative = text.charAt(i) == '-';
            i++;
        }
        int radix = 10;
        if (i + 2 < n && text.charAt(i) == '0' && (text.charAt(i + 1) == 'x' || text.charAt(i + 1) == 'X')
                && Character.digit(text.charAt(i + 2), 16) >= 0) {
            radix = 16;
            i += 2;
        } else if (i < n && text.charAt(i) == '0') {
            radix = 8;
        }
        int digitsStart = i;
        long value = 0;
        boolean overflow = false;
        while (i < n) {
            char ch = text.charAt(i);
            int d = ch < 128 ? Character.digit(ch, radix) : -1;
            if (d < 0) {
                break;
            }
            if (value > (Long.MAX_VALUE - d) / radix) {
                overflow = true;
            } else {
                value = value * radix + d;
            }
            i++;
        }
        if (i == digitsStart) {
            // No digits: strtol sets end to the start of the text, so only an empty text is "whole".
            return text.isEmpty() ? 0 : -1;
        }
        if (i != n) {
            return -1;
        }
        if (overflow) {
            return negative ? -1 : Long.MAX_VALUE;
        }
        return negative ? -value : value;
    }

    private static boolean isCSpace(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\u000b' || c == '\f' || c == '\r';
    }
}
