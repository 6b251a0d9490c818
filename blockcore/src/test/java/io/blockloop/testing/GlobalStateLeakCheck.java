package io.blockloop.testing;

import io.blockloop.aio.AioContext;
import io.blockloop.aio.MainLoop;
import io.blockloop.block.graph.GraphLock;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Fails a test class that leaves process-wide state behind, naming it, so that the leak does not fail whichever
 * class surefire happens to run next (its order of classes differs between machines):
 * <ul>
 *   <li>the main loop still open: it made the next class's {@link MainLoop#init} throw ("the main loop already
 *       runs"). It is closed here, so the next class starts its own; no test class closes a leftover main loop
 *       before its {@code init}, as that hid such leaks.</li>
 *   <li>readers of {@link GraphLock#global()} left counted: a count cannot be given back, so each class is compared
 *       with the count it started with, and the tests that assert the count compare with theirs.</li>
 * </ul>
 *
 * <p>Registered for every test class of this module through JUnit's extension auto-detection
 * ({@code junit-platform.properties}, {@code META-INF/services/org.junit.jupiter.api.extension.Extension}).
 *
 * <p>Threads: JUnit calls it on the thread that runs the class's {@code @BeforeAll}/{@code @AfterAll} methods;
 * closing the main loop from there is allowed while its home thread does not poll it (between classes nothing
 * does).
 */
public final class GlobalStateLeakCheck implements BeforeAllCallback, AfterAllCallback {
    private static final ExtensionContext.Namespace NAMESPACE = ExtensionContext.Namespace.create(
            GlobalStateLeakCheck.class);
    private static final String READERS = "graph readers before the class";

    @Override
    public void beforeAll(ExtensionContext context) {
        context.getStore(NAMESPACE).put(READERS, GraphLock.global().readerCount());
    }

    @Override
    public void afterAll(ExtensionContext context) {
        String owner = context.getRequiredTestClass().getName();
        AssertionError failure = null;
        AioContext leaked = MainLoop.context();
        if (leaked != null) {
            failure = new AssertionError(owner + " ended with the main loop open (home thread '"
                    + leaked.homeThread().getName() + "'): close it in the test that opened it; closed now, so the"
                    + " next class can start its own");
            try {
                leaked.close();
            } catch (RuntimeException | Error e) {
                failure.addSuppressed(e); // still open: the next class's MainLoop.init() fails as well
            }
        }
        long before = context.getStore(NAMESPACE).get(READERS, Long.class);
        long after = GraphLock.global().readerCount();
        if (after != before) {
            AssertionError readers = new AssertionError(owner + " changed the reader count of the global graph lock"
                    + " from " + before + " to " + after + ": a read lock taken and not given back (or given back"
                    + " twice)");
            if (failure == null) {
                failure = readers;
            } else {
                failure.addSuppressed(readers);
            }
        }
        if (failure != null) {
            throw failure;
        }
    }
}
