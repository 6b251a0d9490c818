package io.blockloop.cli.bench;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ProgressLineTest {
    private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    private final PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
    private long now;

    @Test
    void silentDuringTheFirstSecondThenEveryHalfSecondAndErasedAtTheEnd() {
        ProgressLine line = new ProgressLine(out, true, 1000, () -> now);
        line.start();
        now = 900_000_000L;
        line.update(100);
        assertEquals("", bytes.toString(StandardCharsets.UTF_8), "runs under a second show nothing");
        now = 1_000_000_000L;
        line.update(200);
        String first = bytes.toString(StandardCharsets.UTF_8);
        assertTrue(first.startsWith("\r200/1000 requests (20%), 200 IOPS"), first);
        now = 1_400_000_000L;
        line.update(300);
        assertEquals(first, bytes.toString(StandardCharsets.UTF_8), "not again before half a second");
        now = 1_500_000_000L;
        line.update(400);
        String second = bytes.toString(StandardCharsets.UTF_8).substring(first.length());
        assertTrue(second.startsWith("\r400/1000 requests (40%), 400 IOPS"), second);
        assertTrue(line.showing());
        line.clear();
        String all = bytes.toString(StandardCharsets.UTF_8);
        assertTrue(all.endsWith("\r"), "the line is erased");
        assertFalse(line.showing());
    }

    @Test
    void disabledPrintsNothing() {
        ProgressLine line = new ProgressLine(out, false, 10, () -> now);
        line.start();
        now = 10_000_000_000L;
        line.update(5);
        line.clear();
        assertEquals("", bytes.toString(StandardCharsets.UTF_8));
    }
}
