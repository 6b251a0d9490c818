package io.blockloop.coroutine;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/**
 * The coroutine logger's records while open, kept out of the build log: where a body that ended holding locks,
 * and a waiter a lock could not hand itself to, are reported. Opened and closed on the test thread; records may
 * come from any thread (synchronized).
 */
final class CoroutineLogCapture extends Handler implements AutoCloseable {
    final List<LogRecord> records = Collections.synchronizedList(new ArrayList<>());
    private final Logger jul = Logger.getLogger(Coroutine.class.getName());

    CoroutineLogCapture() {
        jul.addHandler(this);
        jul.setUseParentHandlers(false); // keep the expected stack traces out of the build log
    }

    @Override
    public void publish(LogRecord record) {
        records.add(record);
    }

    @Override
    public void flush() {
    }

    @Override
    public void close() {
        jul.removeHandler(this);
        jul.setUseParentHandlers(true);
    }
}
