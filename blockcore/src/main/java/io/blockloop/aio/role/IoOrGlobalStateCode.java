package io.blockloop.aio.role;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * I/O-or-global-state code (QEMU's {@code IO_OR_GS_CODE()}): may run on the home thread of any
 * {@code AioContext}, and when it runs on the main loop's thread it may do global-state work that I/O code may
 * not (e.g. a node's drained section, which from the main loop also polls other contexts through the main
 * loop). Such a method starts with {@code assert ThreadRole.checkIoOrGlobalState();}. On a type: every method of
 * it, unless a method says otherwise.
 */
@Documented
@Retention(RetentionPolicy.RUNTIME)
@Target({ElementType.METHOD, ElementType.CONSTRUCTOR, ElementType.TYPE})
public @interface IoOrGlobalStateCode {
}
