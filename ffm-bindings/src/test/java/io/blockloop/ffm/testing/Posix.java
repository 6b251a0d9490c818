package io.blockloop.ffm.testing;

import jnr.posix.POSIX;
import jnr.posix.POSIXFactory;

/** JNR-POSIX: an independent second native path through which tests check what the FFM layer did. */
public final class Posix {
    private static final POSIX POSIX = POSIXFactory.getNativePOSIX();

    private Posix() {
    }

    public static POSIX get() {
        if (!POSIX.isNative()) {
            throw new IllegalStateException("JNR-POSIX fell back to its Java emulation; it is no oracle then");
        }
        return POSIX;
    }
}
