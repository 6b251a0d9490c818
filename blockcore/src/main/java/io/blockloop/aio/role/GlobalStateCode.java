package io.blockloop.aio.role;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Global-state code (QEMU's {@code GLOBAL_STATE_CODE()}): runs only on the main loop's thread
 * ({@link ThreadRole#MAIN_LOOP}), e.g. opening and closing nodes, graph changes, drain of everything, moving a
 * node to another context. Such a method starts with {@code assert ThreadRole.checkGlobalState();}. On a type:
 * every method of it, unless a method says otherwise.
 */
@Documented
@Retention(RetentionPolicy.RUNTIME)
@Target({ElementType.METHOD, ElementType.CONSTRUCTOR, ElementType.TYPE})
public @interface GlobalStateCode {
}
