package io.blockloop.aio.role;

import io.blockloop.aio.AioContext;
import io.blockloop.aio.IOThread;
import io.blockloop.aio.MainLoop;
import io.blockloop.fdmon.FdMonitorKind;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.function.Executable;

import java.lang.annotation.Annotation;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The thread classification (QEMU's GLOBAL_STATE_CODE / IO_CODE / IO_OR_GS_CODE): what each kind of thread is,
 * and which checks pass or fail there, with a message naming the thread.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class ThreadRoleTest {

    @Test
    void eachKindOfThreadHasItsRoleAndItsChecks() throws Exception {
        AioContext main = MainLoop.init(FdMonitorKind.AUTO);
        try (IOThread io = new IOThread("role-io").start()) {
            assertEquals(ThreadRole.MAIN_LOOP, ThreadRole.ofCurrentThread());
            assertTrue(ThreadRole.checkGlobalState());
            assertTrue(ThreadRole.checkIo(), "the main loop runs a context: I/O code may run there");
            assertTrue(ThreadRole.checkIoOrGlobalState());

            assertEquals(ThreadRole.IO_THREAD, inContext(io.context(), ThreadRole::ofCurrentThread));
            Throwable globalInIo = inContext(io.context(), () -> thrownBy(ThreadRole::checkGlobalState));
            assertInstanceOf(AssertionError.class, globalInIo);
            assertEquals("global-state code called on thread 'IO role-io' (home of context 'role-io'); it runs only"
                    + " on the main loop's thread '" + Thread.currentThread().getName() + "'", globalInIo.getMessage());
            assertNull(inContext(io.context(), () -> thrownBy(ThreadRole::checkIo)));
            assertNull(inContext(io.context(), () -> thrownBy(ThreadRole::checkIoOrGlobalState)));

            CompletableFuture<Throwable[]> plain = new CompletableFuture<>();
            Thread.ofPlatform().name("role-plain").start(() -> plain.complete(new Throwable[]{
                    ThreadRole.ofCurrentThread() == ThreadRole.OTHER ? null : new AssertionError("not OTHER"),
                    thrownBy(ThreadRole::checkGlobalState), thrownBy(ThreadRole::checkIo),
                    thrownBy(ThreadRole::checkIoOrGlobalState)}));
            Throwable[] onPlain = plain.get(10, TimeUnit.SECONDS);
            assertNull(onPlain[0]);
            for (int i = 1; i < onPlain.length; i++) {
                assertInstanceOf(AssertionError.class, onPlain[i]);
                assertTrue(onPlain[i].getMessage().contains("thread 'role-plain' (no AioContext)"), onPlain[i].getMessage());
            }
        } finally {
            main.close();
        }
        assertEquals(ThreadRole.OTHER, ThreadRole.ofCurrentThread(), "no main loop any more");
        Throwable noMainLoop = thrownBy(ThreadRole::checkGlobalState);
        assertInstanceOf(AssertionError.class, noMainLoop);
        assertTrue(noMainLoop.getMessage().endsWith("(no main loop is running)"), noMainLoop.getMessage());
    }

    @Test
    void theAnnotationsAreVisibleAtRunTime() throws Exception {
        for (Class<? extends Annotation> annotation : java.util.List.of(GlobalStateCode.class, IoCode.class,
                IoOrGlobalStateCode.class)) {
            assertEquals(RetentionPolicy.RUNTIME, annotation.getAnnotation(Retention.class).value(), annotation.getName());
        }
        assertTrue(Marked.class.getDeclaredMethod("global").isAnnotationPresent(GlobalStateCode.class));
        assertTrue(Marked.class.getDeclaredMethod("io").isAnnotationPresent(IoCode.class));
        assertTrue(Marked.class.getDeclaredMethod("either").isAnnotationPresent(IoOrGlobalStateCode.class));
    }

    private static final class Marked {
        @GlobalStateCode
        static void global() {
            assert ThreadRole.checkGlobalState();
        }

        @IoCode
        static void io() {
            assert ThreadRole.checkIo();
        }

        @IoOrGlobalStateCode
        static void either() {
            assert ThreadRole.checkIoOrGlobalState();
        }
    }

    private static <T> T inContext(AioContext ctx, Supplier<T> work) throws Exception {
        CompletableFuture<T> result = new CompletableFuture<>();
        ctx.scheduleOneShot("role-probe", () -> {
            try {
                result.complete(work.get());
            } catch (Throwable t) {
                result.completeExceptionally(t);
            }
        });
        return result.get(10, TimeUnit.SECONDS);
    }

    private static Throwable thrownBy(Executable action) {
        try {
            action.execute();
            return null;
        } catch (Throwable t) {
            return t;
        }
    }
}
