package io.blockloop.aio.role;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * I/O code (QEMU's {@code IO_CODE()}): may run on the home thread of any {@code AioContext}, an IOThread's or the
 * main loop's, e.g. reads, writes and flushes of a node. It must not call {@link GlobalStateCode} methods. Such a
 * method starts with {@code assert ThreadRole.checkIo();}. On a type: every method of it, unless a method says
 * otherwise.
 */
@Documented
@Retention(RetentionPolicy.RUNTIME)
@Target({ElementType.METHOD, ElementType.CONSTRUCTOR, ElementType.TYPE})
public @interface IoCode {
}
