package io.blockloop.block.filter;

/**
 * What a {@link ThrottleDriver} did to the requests of one direction so far. A snapshot; any thread (each
 * counter is read on its own, so a snapshot taken while requests run may be a few requests apart between fields).
 *
 * @param admittedImmediately requests that found budget and nobody waiting ahead (under a total limit, in either
 *                            direction), and passed without waiting
 * @param delayed             requests that passed after waiting in the queue
 * @param waiting             requests in the queue now
 * @param timerWaits          times the head of the queue slept until the budget would allow it; a limit change
 *                            cuts a sleep short, so this can exceed the sleeps the rate alone would need
 */
public record ThrottleStats(long admittedImmediately, long delayed, long waiting, long timerWaits) {
    /** Requests that passed, delayed or not. */
    public long admitted() {
        return admittedImmediately + delayed;
    }
}
