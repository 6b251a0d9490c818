package io.blockloop.ffm.liburing;

import io.blockloop.ffm.call.NativeLibrary;

/**
 * The one place that decides whether the jextract-generated classes in
 * {@code io.blockloop.ffm.liburing.generated} may be touched.
 *
 * <p>The generated header class {@code LibUring} looks {@code liburing.so.2} up in its static initialiser and
 * throws when the library is missing, which would surface as an {@link ExceptionInInitializerError} on the first
 * call and as {@link NoClassDefFoundError} ever after. BlockLoop's rule is "a missing library reports
 * unavailable, never a crash", so every hand-written class checks {@link #isLoaded()} (through
 * {@link #requireLoaded()} or {@link IoUringProbe#availability()}) before its first use of a generated class.
 *
 * <p>Thread safety: immutable after class initialisation; any thread.
 */
final class IoUringLibrary {
    /** The soname the bindings were generated for ({@code --library :liburing.so.2}). */
    static final String SONAME = "liburing.so.2";

    private static final NativeLibrary LIBRARY = NativeLibrary.load(SONAME);

    private IoUringLibrary() {
    }

    static boolean isLoaded() {
        return LIBRARY.isLoaded();
    }

    /** Why {@code liburing.so.2} could not be loaded, or {@code null} when it is loaded. */
    static String loadFailure() {
        return LIBRARY.loadFailure();
    }

    /** Throws {@link IllegalStateException} naming the load failure unless {@code liburing.so.2} is loaded. */
    static void requireLoaded() {
        if (!LIBRARY.isLoaded()) {
            throw new IllegalStateException("io_uring is unavailable: " + LIBRARY.loadFailure()
                    + "; check IoUringProbe.availability() before creating a ring");
        }
    }
}
