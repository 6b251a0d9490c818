package io.blockloop.cli.io;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** qemu-io's argument parsing ({@code cvtnum}, {@code parse_pattern}, {@code create_iovec}) in {@link CommandArguments}. */
class CommandArgumentsTest {

    @Test
    void numbersWithSuffixesAndHex() throws ArgumentError {
        assertEquals(512, CommandArguments.number("512"));
        assertEquals(4096, CommandArguments.number("4k"));
        assertEquals(4096, CommandArguments.number("4K"));
        assertEquals(1L << 20, CommandArguments.number("1M"));
        assertEquals(3L << 30, CommandArguments.number("3G"));
        assertEquals(512, CommandArguments.number("0x200"));
        assertEquals(7, CommandArguments.number("7b"));
    }

    @Test
    void badNumbersCarryQemuIosMessages() {
        assertEquals("Parsing error: non-numeric argument, or extraneous/unrecognized suffix -- 12x",
                assertThrows(ArgumentError.class, () -> CommandArguments.number("12x")).outputLine());
        assertEquals("Parsing error: non-numeric argument, or extraneous/unrecognized suffix -- -1",
                assertThrows(ArgumentError.class, () -> CommandArguments.number("-1")).outputLine());
        assertEquals("Parsing error: argument too large -- 99999999999999999999",
                assertThrows(ArgumentError.class, () -> CommandArguments.number("99999999999999999999")).outputLine());
        assertEquals("length cannot exceed 2147483136, given 2G",
                assertThrows(ArgumentError.class, () -> CommandArguments.length("2G")).outputLine());
        assertEquals(2147483136L, assertDoesNotThrowLength("2147483136"));
    }

    private static long assertDoesNotThrowLength(String text) {
        try {
            return CommandArguments.length(text);
        } catch (ArgumentError e) {
            throw new AssertionError(e.outputLine());
        }
    }

    @Test
    void patternsAsStrtolBaseZero() throws ArgumentError {
        assertEquals(0, CommandArguments.pattern("0"));
        assertEquals(10, CommandArguments.pattern("10"));
        assertEquals(0x10, CommandArguments.pattern("0x10"));
        assertEquals(0xcd, CommandArguments.pattern("0xCD"));
        assertEquals(8, CommandArguments.pattern("010"), "a leading 0 is octal");
        assertEquals(255, CommandArguments.pattern("255"));
        assertEquals(1, CommandArguments.pattern("\t+1"));
        assertEquals(0, CommandArguments.pattern("-0"));
        for (String bad : List.of("256", "-1", "0x", "0x100", "09", "1a", "a", "0x12345", "99999999999999999999999")) {
            assertEquals(bad + " is not a valid pattern byte",
                    assertThrows(ArgumentError.class, () -> CommandArguments.pattern(bad)).outputLine(), bad);
        }
    }

    @Test
    void vectorLengths() throws ArgumentError {
        assertArrayEquals(new long[]{512, 1024, 1}, CommandArguments.vectorLengths(List.of("512", "1k", "1")));
        assertEquals(1537, CommandArguments.total(new long[]{512, 1024, 1}));
        assertEquals("Argument '2G' exceeds maximum size 2147483136",
                assertThrows(ArgumentError.class, () -> CommandArguments.vectorLengths(List.of("1", "2G"))).outputLine());
        assertEquals("The total number of bytes exceed the maximum size 2147483136",
                assertThrows(ArgumentError.class,
                        () -> CommandArguments.vectorLengths(List.of("1G", "1G", "1k"))).outputLine());
    }
}
