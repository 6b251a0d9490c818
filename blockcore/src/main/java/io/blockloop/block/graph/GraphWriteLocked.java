package io.blockloop.block.graph;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Needs the graph write lock (QEMU's {@code GRAPH_WRLOCK}): the caller is the main loop's thread and holds
 * {@link GraphLock#global()}'s write lock, e.g. attaching, detaching or replacing a child. Such a method starts
 * with {@code assert GraphLock.checkWritable();}, which costs nothing without {@code -ea}.
 *
 * <p>On a field (QEMU's {@code GRAPH_WRLOCK_PTR}): written only under the write lock. On a type: every method of
 * it, unless a method says otherwise.
 */
@Documented
@Retention(RetentionPolicy.RUNTIME)
@Target({ElementType.METHOD, ElementType.CONSTRUCTOR, ElementType.FIELD, ElementType.TYPE})
public @interface GraphWriteLocked {
}
