package io.blockloop.cli.io;

import io.blockloop.cli.PatternByte;

import io.blockloop.block.BlockNode;
import io.blockloop.cli.ByteCount;
import io.blockloop.cli.CommandFailure;

import java.util.List;

/**
 * The numeric arguments of qemu-io's commands, with its messages: offsets and lengths ({@code cvtnum}:
 * {@code 4k}, {@code 0x200}), lengths capped at {@link BlockNode#MAX_REQUEST_BYTES}, pattern bytes
 * ({@code parse_pattern}: C {@code strtol} with base 0, 0..255) and the lengths of a vectored request
 * ({@code create_iovec}).
 *
 * <p>Stateless; any thread.
 */
final class CommandArguments {
    /** qemu-io's {@code BDRV_REQUEST_MAX_BYTES}. */
    static final long MAX_BYTES = BlockNode.MAX_REQUEST_BYTES;

    private CommandArguments() {
    }

    /** An offset or byte count ({@code cvtnum}). */
    static long number(String text) throws ArgumentError {
        try {
            return ByteCount.parse("", text);
        } catch (CommandFailure f) {
            if (f.getMessage().contains("too large")) {
                throw new ArgumentError("Parsing error: argument too large -- " + text);
            }
            throw new ArgumentError("Parsing error: non-numeric argument, or extraneous/unrecognized suffix -- " + text);
        }
    }

    /** A request length: a {@link #number} of at most {@link #MAX_BYTES}. */
    static long length(String text) throws ArgumentError {
        return length(text, "");
    }

    /** {@link #length} whose refusal ends with {@code qualifier} ({@code " without -n"}). */
    static long length(String text, String qualifier) throws ArgumentError {
        long count = number(text);
        if (count > MAX_BYTES) {
            throw new ArgumentError("length cannot exceed " + MAX_BYTES + qualifier + ", given " + text);
        }
        return count;
    }

    /** The lengths of a vectored request, one per word, and checks their sum ({@code create_iovec}). */
    static long[] vectorLengths(List<String> words) throws ArgumentError {
        long[] lengths = new long[words.size()];
        long total = 0;
        for (int i = 0; i < lengths.length; i++) {
            String word = words.get(i);
            long len = number(word);
            if (len > MAX_BYTES) {
                throw new ArgumentError("Argument '" + word + "' exceeds maximum size " + MAX_BYTES);
            }
            if (total > MAX_BYTES - len) {
                throw new ArgumentError("The total number of bytes exceed the maximum size " + MAX_BYTES);
            }
            lengths[i] = len;
            total += len;
        }
        return lengths;
    }

    /** The sum of {@link #vectorLengths}. */
    static long total(long[] lengths) {
        long total = 0;
        for (long len : lengths) {
            total += len;
        }
        return total;
    }

    /**
     * A pattern byte as qemu-io's {@code parse_pattern} reads it: C {@code strtol(arg, &end, 0)} (leading
     * spaces, a sign, {@code 0x} for hexadecimal, a leading {@code 0} for octal), whole word, 0..255
     * ({@link PatternByte}).
     */
    static int pattern(String text) throws ArgumentError {
        int value = PatternByte.parse(text);
        if (value < 0) {
            throw new ArgumentError(text + " is not a valid pattern byte");
        }
        return value;
    }
}
