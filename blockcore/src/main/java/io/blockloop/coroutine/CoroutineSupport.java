package io.blockloop.coroutine;

/**
 * Whether this JVM lets BlockLoop's coroutines run, and the one message that says what to do when it does not.
 * Coroutines are built on {@code jdk.internal.vm.Continuation} ({@link ContinuationStack}), and {@code java.base}
 * exports that package only when the JVM is told to: {@value #JVM_OPTION} on the command line, or
 * {@code Add-Exports: java.base/jdk.internal.vm} in an executable jar's manifest ({@code blockloop.jar} has it).
 * Without it the first coroutine failed deep inside a request with an {@code IllegalAccessError}, after the
 * caller had started threads and opened files; creating an {@link io.blockloop.aio.AioContext} (which
 * {@link io.blockloop.aio.MainLoop} and {@link io.blockloop.aio.IOThread} do first) or a {@link Coroutine} now
 * refuses at once with this class's message.
 *
 * <p>Threads: any. The answer is computed once, when the class initialises, and never changes (a JVM cannot
 * export a package of {@code java.base} to the caller's module later on its own).
 */
public final class CoroutineSupport {
    /** The JVM option that opens {@code jdk.internal.vm} to code on the class path. */
    public static final String JVM_OPTION = "--add-exports java.base/jdk.internal.vm=ALL-UNNAMED";

    /** Null when coroutines can run; otherwise what is missing and how to fix it. */
    private static final String PROBLEM = findProblem();

    private CoroutineSupport() {
    }

    private static String findProblem() {
        Module ours = CoroutineSupport.class.getModule();
        if (Object.class.getModule().isExported("jdk.internal.vm", ours)) {
            return null;
        }
        return "BlockLoop's coroutines need the JVM option " + JVM_OPTION + " (in an executable jar's manifest: "
                + "Add-Exports: java.base/jdk.internal.vm); java.base does not export jdk.internal.vm to " + ours;
    }

    /** Whether coroutines can run in this JVM. */
    public static boolean isAvailable() {
        return PROBLEM == null;
    }

    /**
     * Returns normally when coroutines can run here; otherwise throws, naming the JVM option that is missing.
     *
     * @throws IllegalStateException when {@code java.base} does not export {@code jdk.internal.vm} to BlockLoop
     */
    public static void require() {
        if (PROBLEM != null) {
            throw new IllegalStateException(PROBLEM);
        }
    }
}
