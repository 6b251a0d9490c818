/**
 * Filter drivers: nodes with one child that pass requests through, changing only what the filter is for.
 * <ul>
 *   <li>{@link io.blockloop.block.filter.ErrorInjectionDriver} ({@code blkdebug}): fails chosen requests with a
 *       chosen errno, by {@link io.blockloop.block.filter.ErrorRule}s added and removed at run time;</li>
 *   <li>{@link io.blockloop.block.filter.ThrottleDriver} ({@code throttle}): IOPS and bytes/s limits with
 *       bursts ({@link io.blockloop.block.filter.ThrottleLimits}), requests waiting in FIFO order per
 *       direction.</li>
 * </ul>
 * Both take the child's limits and write flags, so the node above them sees the child, except that they pad nothing
 * themselves ({@link io.blockloop.block.BlockLimits#passedDown()}): the node below that needs the alignment pads,
 * serialised against all its parents, and a rule or a limit sees the caller's own offsets and lengths.
 */
package io.blockloop.block.filter;
