package io.blockloop.ffm.libaio;

/**
 * The header of the kernel's completion ring {@code struct aio_ring} ({@code fs/aio.c}), mapped into the
 * process at the address {@code io_setup} returns as the context. When {@link #MAGIC} matches and
 * {@code incompat_features} is 0, userspace may reap completions itself: read {@code tail} with acquire
 * (pairs with the kernel's {@code smp_wmb()} before it publishes {@code tail} in {@code aio_complete}),
 * consume the {@link IoEvent}s between {@code head} and {@code tail} (mod {@code nr}), then store
 * {@code head} with release so the kernel sees the slots free (the kernel reads it under its ring lock).
 *
 * <pre>
 *  0 u32 id   4 u32 nr   8 u32 head  12 u32 tail  16 u32 magic  20 u32 compat_features
 * 24 u32 incompat_features  28 u32 header_length (32)  32 struct io_event io_events[nr]
 * </pre>
 *
 * <p>Thread safety: constants only; any thread. The ordered accesses are made by the ring's one consumer
 * (linux-aio's {@code AioCompletionRing}, on the engine's owner thread).
 */
public final class AioRing {
    public static final long OFFSET_NR = 4;
    public static final long OFFSET_HEAD = 8;
    public static final long OFFSET_TAIL = 12;
    public static final long OFFSET_MAGIC = 16;
    public static final long OFFSET_INCOMPAT_FEATURES = 24;
    public static final long HEADER_SIZE = 32;
    public static final int MAGIC = 0xa10a10a1;

    private AioRing() {
    }
}
