package io.blockloop.ffm.call;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.util.Optional;

/**
 * A native library loaded by soname ({@code liburing.so.2}, {@code libaio.so.1}) or the C library, and the
 * place where downcall handles are linked.
 *
 * <p>Downcalls that can fail with {@code errno} are linked with {@link #downcallCapturingErrno}, which
 * prepends a capture segment parameter (see {@link ErrnoCapture}). A function that is missing from the
 * library yields a handle that throws {@link UnsatisfiedLinkError} when called, so a class that binds an
 * optional library can still be initialised and report "unavailable" instead of failing to load.
 *
 * <p>Thread safety: immutable after construction; any thread may link and call.
 */
public final class NativeLibrary {
    private static final Linker LINKER = Linker.nativeLinker();
    private static final NativeLibrary LIBC = new NativeLibrary("libc", LINKER.defaultLookup(), null);

    private final String name;
    private final SymbolLookup lookup;
    private final String loadFailure;

    private NativeLibrary(String name, SymbolLookup lookup, String loadFailure) {
        this.name = name;
        this.lookup = lookup;
        this.loadFailure = loadFailure;
    }

    /** The C library (the linker's default lookup). */
    public static NativeLibrary libc() {
        return LIBC;
    }

    /**
     * Loads {@code soname} for the life of the JVM. Never throws: when the library cannot be loaded the
     * result is {@linkplain #isLoaded() not loaded} and {@link #loadFailure()} says why.
     */
    public static NativeLibrary load(String soname) {
        try {
            return new NativeLibrary(soname, SymbolLookup.libraryLookup(soname, Arena.global()), null);
        } catch (IllegalArgumentException | IllegalCallerException e) {
            return new NativeLibrary(soname, name -> Optional.empty(),
                    soname + " cannot be loaded (" + e.getMessage() + ")");
        }
    }

    public String name() {
        return name;
    }

    public boolean isLoaded() {
        return loadFailure == null;
    }

    /** Why the library is not loaded, or {@code null} when it is. */
    public String loadFailure() {
        return loadFailure;
    }

    /** The address of {@code symbol}, if the library exports it. */
    public Optional<MemorySegment> find(String symbol) {
        return lookup.find(symbol);
    }

    /** A downcall handle for {@code symbol}; calling it throws {@link UnsatisfiedLinkError} if it is missing. */
    public MethodHandle downcall(String symbol, FunctionDescriptor descriptor, Linker.Option... options) {
        Optional<MemorySegment> address = lookup.find(symbol);
        if (address.isEmpty()) {
            return missing(symbol, LINKER.downcallHandle(descriptor, options).type().dropParameterTypes(0, 1));
        }
        return LINKER.downcallHandle(address.get(), descriptor, options);
    }

    /**
     * A downcall handle for {@code symbol} that stores {@code errno} into a capture segment passed as its
     * new first parameter; read it back with {@link ErrnoCapture#errno(MemorySegment)}.
     */
    public MethodHandle downcallCapturingErrno(String symbol, FunctionDescriptor descriptor) {
        return downcall(symbol, descriptor, ErrnoCapture.OPTION);
    }

    private MethodHandle missing(String symbol, java.lang.invoke.MethodType type) {
        String why = loadFailure != null ? loadFailure : name + " does not export " + symbol;
        MethodHandle thrower = MethodHandles.throwException(type.returnType(), UnsatisfiedLinkError.class);
        thrower = MethodHandles.insertArguments(thrower, 0, new UnsatisfiedLinkError(why));
        return MethodHandles.dropArguments(thrower, 0, type.parameterList());
    }
}
