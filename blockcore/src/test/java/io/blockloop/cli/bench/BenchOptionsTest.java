package io.blockloop.cli.bench;

import io.blockloop.aio.PollParams;
import io.blockloop.block.BlockNode;
import io.blockloop.block.CacheMode;
import io.blockloop.block.file.AioMode;
import io.blockloop.cli.CommandFailure;
import io.blockloop.fdmon.FdMonitorKind;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BenchOptionsTest {
    private static BenchOptions parse(String... args) throws CommandFailure {
        return BenchOptions.parse(List.of(args));
    }

    @Test
    void defaultsAreQemuImgBenchs() throws Exception {
        BenchOptions o = parse();
        assertEquals(75000, o.count());
        assertEquals(64, o.depth());
        assertEquals(4096, o.size());
        assertEquals(4096, o.step());
        assertEquals(0, o.offset());
        assertFalse(o.write());
        assertFalse(o.random());
        assertEquals(0, o.pattern());
        assertEquals("raw", o.image().format());
        assertEquals(CacheMode.NONE, o.image().cache());
        assertEquals(AioMode.AUTO, o.image().aio());
        assertTrue(o.image().readOnly(), "a read benchmark opens the image read-only, as qemu-img bench");
        assertEquals(FdMonitorKind.AUTO, o.fdmon());
        assertEquals(PollParams.ioThreadDefault().maxNs(), o.pollMaxNs(), "busy polling as an IOThread's");
        assertEquals(0, parse("--poll-max-ns", "0").pollMaxNs(), "off, as qemu-img bench's main loop");
        assertEquals(BenchOptions.WARMUP_DEFAULT, o.warmup());
        assertEquals(0, o.flushInterval(), "no flushes");
        assertNull(o.flushSchedule());
        assertTrue(o.drainOnFlush(), "a flush waits for the writes in flight, as in qemu-img bench");
        assertFalse(o.quiet());
        assertFalse(o.json());
        assertNull(o.file());
        assertTrue(o.defaultTarget());
    }

    @Test
    void longOptionsMayBeAbbreviatedWhileUnambiguousAsWithGetoptLong() throws Exception {
        BenchOptions o = parse("--rand", "--js", "--se=9", "--poll-max=0", "--war", "5", "--no-reg", "img");
        assertTrue(o.random());
        assertTrue(o.json());
        assertEquals(9, o.seed());
        assertEquals(0, o.pollMaxNs());
        assertEquals(5, o.warmup());
        assertFalse(o.registerBuffers());
        CommandFailure f = assertThrows(CommandFailure.class, () -> parse("--p", "1"));
        assertEquals("bench: option '--p' is ambiguous; possibilities: '--pattern' '--poll-max-ns'", f.getMessage());
        assertEquals("bench: unknown option '--nope' (see blockloop bench --help)",
                assertThrows(CommandFailure.class, () -> parse("--nope")).getMessage());
    }

    @Test
    void cacheOffIsNoneAsInQemu() throws Exception {
        assertEquals(CacheMode.NONE, parse("-t", "off").image().cache());
    }

    /**
     * {@code --pattern} is read as qemu-img reads it, C's {@code strtoul(text, NULL, 0)}: {@code 010} is octal 8,
     * not decimal 10 (until session 26 BlockLoop wrote 0x0a where qemu-img writes 0x08), as {@code io -P} reads it.
     */
    @Test
    void thePatternIsReadAsCReadsIt() throws Exception {
        assertEquals(8, parse("--pattern=010").pattern());
        assertEquals(255, parse("--pattern=0377").pattern());
        assertEquals(16, parse("--pattern=0x10").pattern());
        assertEquals(171, parse("--pattern", "171").pattern());
        assertEquals(0, parse("--pattern=0").pattern());
    }

    @Test
    void everyFlag() throws Exception {
        BenchOptions o = parse("-c", "1k", "-d", "32", "-s", "64k", "-S", "1M", "-o", "1G", "-w", "--random",
                "--seed", "9", "--pattern=0xff", "-t", "writeback", "-i", "threads", "--fdmon", "epoll", "--poll-max-ns",
                "32768", "-f", "file", "--warmup", "500", "--json", "/dev/loop0");
        assertEquals(1024, o.count());
        assertEquals(32, o.depth());
        assertEquals(65536, o.size());
        assertEquals(1 << 20, o.step());
        assertEquals(1L << 30, o.offset());
        assertTrue(o.write());
        assertTrue(o.random());
        assertEquals(9, o.seed());
        assertEquals(255, o.pattern());
        assertEquals(CacheMode.WRITEBACK, o.image().cache());
        assertEquals(AioMode.THREADS, o.image().aio());
        assertFalse(o.image().forceShare());
        assertFalse(o.image().readOnly());
        BenchOptions shared = parse("-U");
        assertTrue(shared.image().forceShare() && shared.image().readOnly(), "a read benchmark opens read-only");
        CommandFailure writeShared = assertThrows(CommandFailure.class, () -> parse("-w", "-U"));
        assertEquals(CommandFailure.USAGE, writeShared.exitStatus());
        assertTrue(writeShared.getMessage().contains("-w opens it for writing"), writeShared.getMessage());
        assertEquals(FdMonitorKind.EPOLL, o.fdmon());
        assertEquals(32768, o.pollMaxNs());
        assertEquals("file", o.image().format());
        assertEquals(500, o.warmup());
        assertTrue(o.json());
        assertEquals("/dev/loop0", o.file());
        assertFalse(o.defaultTarget());
    }

    @Test
    void gluedAndGroupedShortOptionsAndLongOptionsWithEquals() throws Exception {
        BenchOptions o = parse("-c100", "-Uqd8", "-s", "512", "--fdmon=poll", "--seed=4", "-n", "--", "-odd-name");
        assertEquals(100, o.count());
        assertTrue(o.quiet());
        assertFalse(o.write());
        assertTrue(o.image().forceShare());
        assertEquals(8, o.depth());
        assertEquals(512, o.size());
        assertEquals(512, o.step(), "step defaults to the size");
        assertEquals(FdMonitorKind.POLL, o.fdmon());
        assertEquals(4, o.seed());
        assertEquals(AioMode.NATIVE, o.image().aio());
        assertEquals("-odd-name", o.file());
    }

    @Test
    void stepZeroMeansTheRequestSizeAsInQemuImgAndNullTakesItsSize() throws Exception {
        assertEquals(4096, parse("-S", "0").step());
        assertEquals(8192, parse("-s", "8k", "-S", "0").step());
        BenchOptions n = parse("-f", "null", "4G");
        assertEquals("4G", n.file());
        assertFalse(n.defaultTarget());
        assertEquals("1G", parse("-f", "null").file());
        assertEquals("null", parse("-f", "null-co", "4G").image().format(), "QEMU's name of the driver");
    }

    @Test
    void countsTakeFractionsThatComeOutWholeAndSizesTheLargestRequest() throws Exception {
        assertEquals(1536, parse("-c", "1.5k").count());
        assertEquals(BlockNode.MAX_REQUEST_BYTES, parse("-s", "2147483136", "-f", "null", "4G").size());
        assertEquals(307, parse("-o", "0.3k").offset(), "bytes round as qemu-img's cvtnum rounds them");
    }

    @Test
    void loopCpuIsACpuNumberOrCurrentAndNotPinnedByDefault() throws Exception {
        assertEquals(BenchOptions.LOOP_CPU_NONE, parse().loopCpu());
        assertEquals(3, parse("--loop-cpu", "3").loopCpu());
        assertEquals(1023, parse("--loop-cpu=1023").loopCpu());
        assertEquals(BenchOptions.LOOP_CPU_CURRENT, parse("--loop-cpu", "current").loopCpu());
    }

    @Test
    void flushIntervalAndNoDrainAreQemuImgBenchsForWrites() throws Exception {
        BenchOptions o = parse("-w", "-d", "8", "--flush-interval=8");
        assertEquals(8, o.flushInterval());
        assertTrue(o.drainOnFlush());
        FlushSchedule drained = o.flushSchedule();
        assertEquals(8, drained.interval());
        assertTrue(drained.drain());
        BenchOptions undrained = parse("-w", "-d", "4", "--flush-interval", "1k", "--no-drain");
        assertEquals(1024, undrained.flushInterval());
        assertFalse(undrained.drainOnFlush());
        assertFalse(undrained.flushSchedule().drain());
        assertEquals(0, parse("-w", "--flush-interval=0").flushInterval(), "0: no flushes, as in qemu-img");
    }

    @Test
    void helpReturnsNull() throws Exception {
        assertNull(parse("-h"));
        assertNull(parse("-c", "5", "--help"));
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "-x|bench: unknown option '-x' (see blockloop bench --help)",
            "--bogus|bench: unknown option '--bogus' (see blockloop bench --help)",
            "-c|bench: option '-c' needs a value",
            "--seed|bench: option '--seed' needs a value",
            "--json=yes|bench: option '--json' takes no value",
            "-c 0|bench: request count: must be at least 1 -- 0",
            "-c abc|bench: request count: Parsing error: non-numeric argument, or extraneous/unrecognized suffix -- abc",
            "-c 3000000000|bench: request count: must be at most 2147483647 -- 3000000000",
            "-c 1.0001k|bench: request count: not a whole number -- 1.0001k",
            "-s 2147483137|bench: buffer size: must be at most 2147483136 -- 2147483137",
            "--seed=|bench: seed: Parsing error: non-numeric argument, or extraneous/unrecognized suffix -- ''",
            "--help=x|bench: option '--help' takes no value",
            "-d 0|bench: queue depth: must be at least 1 -- 0",
            "-s 0|bench: buffer size: must be at least 1 -- 0",
            "-s 4X|bench: buffer size: Parsing error: non-numeric argument, or extraneous/unrecognized suffix -- 4X",
            "-S -1|bench: step size: negative value -- -1",
            "-o -5|bench: offset: negative value -- -5",
            "--pattern=256|bench: pattern: not a byte from 0 to 255 (0x... hexadecimal, 0... octal) -- 256",
            "--pattern=08|bench: pattern: not a byte from 0 to 255 (0x... hexadecimal, 0... octal) -- 08",
            "--pattern=0400|bench: pattern: not a byte from 0 to 255 (0x... hexadecimal, 0... octal) -- 0400",
            "--pattern=-1|bench: pattern: not a byte from 0 to 255 (0x... hexadecimal, 0... octal) -- -1",
            "--pattern=|bench: pattern: not a byte from 0 to 255 (0x... hexadecimal, 0... octal) -- ''",
            "--pattern=1k|bench: pattern: not a byte from 0 to 255 (0x... hexadecimal, 0... octal) -- 1k",
            "-t sometimes|bench: invalid cache mode 'sometimes' (expected none, writeback, writethrough, directsync or unsafe)",
            "-i magic|bench: invalid aio mode 'magic' (expected io_uring, native, threads or auto)",
            "-f qcow2|bench: unknown format 'qcow2' (formats: raw, file, null or null-co)",
            "--fdmon kqueue|bench: unknown fd monitor 'kqueue' (expected poll, epoll, io_uring or auto)",
            "--loop-cpu -1|bench: loop CPU: negative value -- -1",
            "--loop-cpu 1024|bench: loop CPU: must be at most 1023 -- 1024",
            "--loop-cpu=first|bench: loop CPU: Parsing error: non-numeric argument, or extraneous/unrecognized suffix -- first",
            "a.img b.img|bench: expecting one image file name, got 'a.img' and 'b.img'",
            "-c \u0665|bench: request count: Parsing error: non-numeric argument, or extraneous/unrecognized suffix -- \u0665",
            "-f null lots|bench: null device size: Parsing error: non-numeric argument, or extraneous/unrecognized suffix -- lots",
            "-f null 9223372036854775807|bench: null device size: must be at most 9223372035781033984 -- 9223372036854775807",
            "--flush-interval=64|bench: --flush-interval is only available in write tests (-w)",
            "-w -d 64 --flush-interval=63|bench: the flush interval can't be smaller than the depth (--flush-interval 63, -d 64)",
            "-w --flush-interval=-1|bench: flush interval: negative value -- -1",
            "-w --no-drain|bench: --no-drain needs a flush interval (--flush-interval=N, N at least 1)",
            "-w --flush-interval=0 --no-drain|bench: --no-drain needs a flush interval (--flush-interval=N, N at least 1)",
            "-w --flush-interval=64 --no-drain=yes|bench: option '--no-drain' takes no value",
    })
    void usageMistakesAreOneLineWithExitStatusTwo(String args, String message) {
        CommandFailure f = assertThrows(CommandFailure.class, () -> BenchOptions.parse(List.of(args.split(" "))));
        assertEquals(CommandFailure.USAGE, f.exitStatus());
        assertEquals(message, f.getMessage());
    }
}
