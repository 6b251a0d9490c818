package io.blockloop.cli.io;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/** {@link OptionScanner} against GNU getopt's behaviour, which qemu-io's commands inherit. */
class OptionScannerTest {

    /** The options as "c" or "c=arg", then "| operands". */
    private static String scan(String shortOptions, String... args) {
        OptionScanner s = new OptionScanner("cmd", List.of(args), shortOptions, Map.of("cache", 't', "quiet", 'q'));
        List<String> seen = new ArrayList<>();
        for (int c = s.next(); c != OptionScanner.END; c = s.next()) {
            if (c == OptionScanner.BAD) {
                seen.add("BAD(" + s.error() + ")");
            } else {
                seen.add(s.argument() == null ? String.valueOf((char) c) : (char) c + "=" + s.argument());
            }
        }
        return String.join(" ", seen) + " | " + String.join(" ", s.operands());
    }

    @Test
    void clustersAttachedAndSeparateArguments() {
        assertEquals("q v P=0xa s=4 | 0 512", scan("P:qs:v", "-qv", "-P0xa", "-s", "4", "0", "512"));
        assertEquals("q P=1 | 0 1", scan("P:q", "-qP1", "0", "1"));
        assertEquals("q P=v | ", scan("P:qv", "-qP", "v"));
    }

    @Test
    void operandsAnywhereAndDoubleDashEndsOptions() {
        assertEquals("v P=3 | 0 512", scan("P:v", "0", "-v", "512", "-P", "3"));
        assertEquals("v | -1 -q", scan("qv", "-v", "--", "-1", "-q"));
        assertEquals(" | - x", scan("q", "-", "x"));
    }

    @Test
    void unknownOptionsAndMissingArguments() {
        assertEquals("BAD(cmd: invalid option -- 'X') | 0", scan("q", "-X", "0"));
        assertEquals("q BAD(cmd: invalid option -- '1') | 0", scan("q", "-q1", "0"));
        assertEquals("BAD(cmd: option requires an argument -- 'P') | 0", scan("P:", "0", "-P"));
        assertEquals("BAD(cmd: invalid option -- ':') | ", scan("P:", "-:"));
    }

    @Test
    void longOptions() {
        assertEquals("t=none q t=directsync | f", scan("qt:", "--cache=none", "--quiet", "--cache", "directsync", "f"));
        assertEquals("BAD(cmd: unrecognized option '--nope') | ", scan("qt:", "--nope"));
        assertEquals("BAD(cmd: option '--quiet' doesn't allow an argument) | ", scan("qt:", "--quiet=1"));
        assertEquals("BAD(cmd: option '--cache' requires an argument) | ", scan("qt:", "--cache"));
    }

    @Test
    void longOptionsMayBeAbbreviatedWhileUnambiguousAsWithGetoptLong() {
        assertEquals("t=none q t=directsync | f", scan("qt:", "--ca=none", "--q", "--cach", "directsync", "f"));
        assertEquals("BAD(cmd: option '--quiet' doesn't allow an argument) | ", scan("qt:", "--qu=1"));
        OptionScanner s = new OptionScanner("cmd", List.of("--c", "x", "--cm", "y", "--=z"), "c:t:C",
                Map.of("cmd", 'c', "cache", 't', "copy-on-read", 'C'));
        assertEquals(OptionScanner.BAD, s.next());
        assertEquals("cmd: option '--c' is ambiguous; possibilities: '--cache' '--cmd' '--copy-on-read'", s.error());
        assertEquals('c', s.next());
        assertEquals("y", s.argument());
        assertEquals(OptionScanner.BAD, s.next());
        assertEquals("cmd: unrecognized option '--'", s.error());
    }

    @Test
    void noArgumentBeforeTheFirstOption() {
        OptionScanner s = new OptionScanner("cmd", List.of("-q"), "q");
        assertEquals('q', s.next());
        assertNull(s.argument());
        assertEquals(OptionScanner.END, s.next());
    }
}
