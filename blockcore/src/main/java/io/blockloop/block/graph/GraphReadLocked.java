package io.blockloop.block.graph;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Needs the graph read lock (QEMU's {@code GRAPH_RDLOCK}): the caller holds {@link GraphLock#global()}'s read
 * lock, or runs on the main loop's thread (the only writer, so it never reads a graph being changed). Such a
 * method starts with {@code assert GraphLock.checkReadable();}, which costs nothing without {@code -ea}.
 *
 * <p>On a field (QEMU's {@code GRAPH_RDLOCK_PTR}): read under the read lock, written under the write lock. On a
 * type: every method of it, unless a method says otherwise.
 */
@Documented
@Retention(RetentionPolicy.RUNTIME)
@Target({ElementType.METHOD, ElementType.CONSTRUCTOR, ElementType.FIELD, ElementType.TYPE})
public @interface GraphReadLocked {
}
