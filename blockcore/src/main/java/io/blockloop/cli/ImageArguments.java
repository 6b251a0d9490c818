package io.blockloop.cli;

import io.blockloop.aio.AioContext;
import io.blockloop.block.BlockIoException;
import io.blockloop.block.BlockNode;
import io.blockloop.block.CacheMode;
import io.blockloop.block.backend.BlockBackend;
import io.blockloop.block.backend.ImageSpec;
import io.blockloop.block.file.AioMode;
import io.blockloop.block.file.FileKind;
import io.blockloop.block.file.FileOptions;
import io.blockloop.ffm.errno.Errno;
import io.blockloop.ffm.errno.NativeCallException;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Locale;

/**
 * The image options {@code bench} and {@code io} share ({@code -f FMT -t CACHE -i AIO -r -U}) and how they open
 * a {@link BlockBackend}: {@code -f raw} (the default) is a raw node over a file node, {@code -f file} the file
 * node alone, {@code -f null} a null device whose size is the FILE argument read as a byte count
 * ({@code null-co} has no file; {@code blockloop bench -f null 1G}).
 *
 * <p>Immutable value; any thread.
 *
 * @param format     raw, file or null
 * @param formatGiven whether {@code -f} gave it: a raw image by default is first checked for another format's
 *                   header, which raw writes would destroy
 * @param cache      {@code -t}: none (O_DIRECT, the default), writeback, writethrough, directsync, unsafe
 * @param aio        {@code -i}: io_uring, native, threads or auto (the default)
 * @param readOnly   {@code -r}
 * @param forceShare {@code -U}: open even if another process holds the image (read-only)
 */
public record ImageArguments(String format, boolean formatGiven, CacheMode cache, AioMode aio, boolean readOnly,
                             boolean forceShare) {
    /** BlockLoop's defaults: raw (not given: {@link ForeignImageFormat} checks), cache=none, aio=auto, read-write. */
    public static ImageArguments defaults() {
        return new ImageArguments("raw", false, CacheMode.NONE, AioMode.AUTO, false, false);
    }

    public ImageArguments withFormat(String value) throws CommandFailure {
        String f = value.toLowerCase(Locale.ROOT);
        if (f.equals("null-co")) {
            f = "null"; // QEMU's name of the driver, as a command line ported from qemu-img or qemu-io has it
        }
        if (!f.equals("raw") && !f.equals("file") && !f.equals("null")) {
            throw CommandFailure.usage("unknown format '" + value + "' (formats: raw, file, null or null-co)");
        }
        return new ImageArguments(f, true, cache, aio, readOnly, forceShare);
    }

    public ImageArguments withCache(String value) throws CommandFailure {
        try {
            return new ImageArguments(format, formatGiven, CacheMode.parse(value), aio, readOnly, forceShare);
        } catch (IllegalArgumentException e) {
            throw CommandFailure.usage(e.getMessage());
        }
    }

    public ImageArguments withAio(String value) throws CommandFailure {
        try {
            return new ImageArguments(format, formatGiven, cache, AioMode.parse(value), readOnly, forceShare);
        } catch (IllegalArgumentException e) {
            throw CommandFailure.usage(e.getMessage());
        }
    }

    public ImageArguments withReadOnly(boolean value) {
        return new ImageArguments(format, formatGiven, cache, aio, value, forceShare);
    }

    public ImageArguments withForceShare(boolean value) {
        return new ImageArguments(format, formatGiven, cache, aio, readOnly, value);
    }

    /**
     * The size of a {@code null} device, given as its FILE: a byte count (with suffixes) up to the block layer's
     * largest node ({@link BlockNode#MAX_LENGTH}, QEMU's limit too). Above it, a discard near the end spun for
     * ever: its pieces' ends overflowed a {@code long}.
     *
     * @throws CommandFailure (usage) for a bad number or a size above the limit
     */
    public static long nullDeviceSize(String command, String text) throws CommandFailure {
        long size = ByteCount.parse(command + ": null device size", text);
        if (size > BlockNode.MAX_LENGTH) {
            throw CommandFailure.usage(command + ": null device size: must be at most " + BlockNode.MAX_LENGTH
                    + " -- " + text);
        }
        return size;
    }

    /**
     * Opens {@code file} as described, its nodes in {@code ctx}, as a backend named after {@code command}
     * ({@code bench} or {@code io}), which also starts the message of a usage mistake. Main loop.
     *
     * @throws CommandFailure (runtime) with one line when the image cannot be opened (missing file, not a file or
     *                        block device, lock held, O_DIRECT refused, ...), (usage) for inconsistent options
     */
    public BlockBackend open(String command, String file, AioContext ctx) throws CommandFailure {
        long nullSize = format.equals("null") ? nullDeviceSize(command, file) : 0;
        try {
            ImageSpec spec;
            if (format.equals("null")) {
                spec = new ImageSpec.Null(nullSize, true, readOnly);
            } else {
                // Inside the try: inconsistent options (-U without -r) are refused here, as a usage mistake.
                FileOptions options = new FileOptions(file, cache, aio, readOnly, true, forceShare);
                spec = format.equals("raw") ? new ImageSpec.Raw(options) : new ImageSpec.File(options);
            }
            BlockBackend blk = BlockBackend.open(command, spec, ctx);
            if (!formatGiven) {
                refuseForeignFormat(blk, file);
            }
            return blk;
        } catch (NativeCallException e) {
            throw CommandFailure.runtime(openFailure(file, e));
        } catch (IllegalStateException | FileKind.Unsupported e) {
            String why = String.valueOf(e.getMessage());
            throw CommandFailure.runtime(why.startsWith("Could not open '") ? why
                    : "Could not open '" + file + "': " + why);
        } catch (IllegalArgumentException e) {
            throw CommandFailure.usage(command + ": " + e.getMessage());
        }
    }

    /**
     * Closes {@code blk} and fails when the image, taken as raw because no {@code -f} was given, starts with the
     * header of another format: qemu-io and qemu-img would have opened it as that format, and BlockLoop, which
     * reads raw images only, overwrote the header of a qcow2 image with the first write, destroying it.
     */
    private static void refuseForeignFormat(BlockBackend blk, String file) throws CommandFailure {
        String foreign;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment head = arena.allocate(Math.min(blk.length(), ForeignImageFormat.HEADER_BYTES));
            blk.read(0, head);
            foreign = ForeignImageFormat.of(head.toArray(ValueLayout.JAVA_BYTE));
        } catch (BlockIoException e) {
            blk.close();
            throw CommandFailure.runtime("Could not open '" + file + "': reading its first bytes, to check that it"
                    + " is a raw image, failed: " + e.getMessage());
        } catch (RuntimeException e) {
            blk.close();
            throw e;
        }
        if (foreign != null) {
            blk.close();
            throw CommandFailure.runtime("Could not open '" + file + "': it is a " + foreign + " image, and BlockLoop"
                    + " reads raw images only; give -f raw to use its bytes as a raw image");
        }
    }

    /**
     * QEMU's line for a failed {@code open(2)}, "Could not open 'FILE': No such file or directory"; other calls
     * keep their name and errno symbol. A name holding U+FFFD came from bytes the JVM could not decode: it passed
     * the file system a different name, which the line says.
     */
    private static String openFailure(String file, NativeCallException e) {
        String why = e.call().equals("open") ? Errno.text(e.errno()) : e.getMessage();
        if (file.indexOf('\uFFFD') >= 0) {
            why += " (the name has bytes that are not valid in the JVM's file name encoding, "
                    + System.getProperty("sun.jnu.encoding") + ", so the JVM could not pass it on as it was given)";
        }
        return "Could not open '" + file + "': " + why;
    }
}
