/**
 * Which thread may run a piece of code: the Java form of QEMU's {@code GLOBAL_STATE_CODE()}, {@code IO_CODE()}
 * and {@code IO_OR_GS_CODE()} ({@code include/qemu/main-loop.h}).
 *
 * <p>The annotations {@link io.blockloop.aio.role.GlobalStateCode}, {@link io.blockloop.aio.role.IoCode} and
 * {@link io.blockloop.aio.role.IoOrGlobalStateCode} document a method's classification (they are retained at run
 * time, so tools and tests can find them); the method checks it at entry with the matching {@link
 * io.blockloop.aio.role.ThreadRole} check inside an {@code assert}, which costs nothing unless assertions are on
 * ({@code -ea}, as in every test run):
 * <pre>{@code
 * @GlobalStateCode
 * public void attachChild(...) {
 *     assert ThreadRole.checkGlobalState();
 *     ...
 * }
 * }</pre>
 */
package io.blockloop.aio.role;
