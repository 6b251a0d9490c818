package io.blockloop.cli;

import io.blockloop.block.file.StorageGeometry;
import io.blockloop.ffm.call.Availability;
import io.blockloop.ffm.errno.Errno;
import io.blockloop.ffm.errno.NativeCallException;
import io.blockloop.ffm.libaio.LibAio;
import io.blockloop.ffm.libc.Epoll;
import io.blockloop.ffm.libc.FileIo;
import io.blockloop.ffm.libc.Uname;
import io.blockloop.ffm.liburing.IoUringProbe;

import java.io.PrintStream;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code blockloop probe [--json] [PATH]}: what this machine offers BlockLoop (kernel, io_uring with its
 * supported opcodes, linux-aio, epoll) and, for PATH, its size, block sizes and O_DIRECT alignment.
 * Runs on the calling thread; opens PATH read-only and never writes to it.
 */
final class ProbeCommand {
    private final PrintStream out;

    ProbeCommand(PrintStream out) {
        this.out = out;
    }

    void run(List<String> args) throws CommandFailure {
        boolean json = false;
        String path = null;
        boolean options = true;
        for (String arg : args) {
            if (options && arg.equals("--")) {
                options = false; // a PATH may start with '-' after it
            } else if (options && (arg.equals("--help") || arg.equals("-h"))) {
                out.println("usage: blockloop probe [--json] [--] [PATH]");
                return;
            } else if (options && arg.equals("--json")) {
                json = true;
            } else if (options && arg.startsWith("-")) {
                throw CommandFailure.usage("probe: unknown option '" + arg + "' (usage: blockloop probe [--json] [PATH])");
            } else if (path == null) {
                path = arg;
            } else {
                throw CommandFailure.usage("probe: one PATH at most (usage: blockloop probe [--json] [PATH])");
            }
        }
        StorageGeometry geometry = null;
        if (path != null) {
            try {
                geometry = StorageGeometry.of(path);
            } catch (NativeCallException e) {
                // open's failure in QEMU's words, as bench and io say it; it had named the path twice
                throw CommandFailure.runtime("probe: " + (e.call().equals("open")
                        ? "Could not open '" + path + "': " + Errno.text(e.errno()) : path + ": " + e.getMessage()));
            } catch (IllegalArgumentException | IllegalStateException e) {
                throw CommandFailure.runtime("probe: " + path + ": " + e.getMessage());
            }
        }
        Map<String, Object> report = report(geometry);
        if (json) {
            out.println(Json.write(report));
        } else {
            printHuman(report);
        }
    }

    private static Map<String, Object> report(StorageGeometry geometry) {
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("kernel", Uname.current().release());
        Availability uring = IoUringProbe.availability();
        Map<String, Object> uringReport = facility(uring);
        uringReport.put("opcodes", uring.available() ? IoUringProbe.supportedOpcodes() : List.of());
        r.put("io_uring", uringReport);
        r.put("linux_aio", facility(LibAio.availability()));
        r.put("epoll", facility(epollAvailability()));
        if (geometry != null) {
            Map<String, Object> p = new LinkedHashMap<>();
            p.put("path", geometry.path());
            p.put("type", geometry.blockDevice() ? "block-device" : "file");
            p.put("size", geometry.size());
            p.put("logical_block_size", geometry.logicalBlockSize());
            p.put("physical_block_size", geometry.physicalBlockSize());
            p.put("direct_io", geometry.directIo());
            p.put("request_alignment", geometry.alignment().requestAlignment());
            p.put("memory_alignment", geometry.alignment().memoryAlignment());
            r.put("path", p);
        }
        return r;
    }

    private static Map<String, Object> facility(Availability a) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("available", a.available());
        m.put("reason", a.reason());
        return m;
    }

    private static Availability epollAvailability() {
        try {
            FileIo.close(Epoll.create(Epoll.EPOLL_CLOEXEC));
            return Availability.yes();
        } catch (NativeCallException e) {
            return Availability.no(e.getMessage());
        }
    }

    @SuppressWarnings("unchecked")
    private void printHuman(Map<String, Object> r) {
        out.println("kernel:     " + r.get("kernel"));
        for (String name : List.of("io_uring", "linux_aio", "epoll")) {
            Map<String, Object> f = (Map<String, Object>) r.get(name);
            String state = (Boolean) f.get("available") ? "available" : "unavailable: " + f.get("reason");
            out.printf("%-11s %s%n", name + ":", state);
            if (f.get("opcodes") instanceof List<?> opcodes && !opcodes.isEmpty()) {
                out.println("  opcodes:  " + String.join(" ", (List<String>) opcodes));
            }
        }
        Map<String, Object> p = (Map<String, Object>) r.get("path");
        if (p != null) {
            out.println("path:       " + p.get("path") + " (" + p.get("type") + ")");
            out.println("  size:                " + p.get("size") + " bytes");
            out.println("  logical block size:  " + p.get("logical_block_size"));
            out.println("  physical block size: " + p.get("physical_block_size"));
            out.println("  O_DIRECT:            " + ((Boolean) p.get("direct_io")
                    ? "request alignment " + p.get("request_alignment") + ", memory alignment " + p.get("memory_alignment")
                    : "not supported by this filesystem"));
        }
    }
}
