package io.blockloop.fdmon;

import java.util.ArrayList;
import java.util.List;

/** A {@link ReadySink} that records what a wait reported. */
final class RecordingSink implements ReadySink {
    record Report(FdNode node, int revents) {
    }

    final List<Report> reports = new ArrayList<>();

    @Override
    public void ready(FdNode node, int revents) {
        reports.add(new Report(node, revents));
    }

    List<FdNode> nodes() {
        return reports.stream().map(Report::node).toList();
    }

    int reventsOf(FdNode node) {
        int r = 0;
        for (Report report : reports) {
            if (report.node() == node) {
                r |= report.revents();
            }
        }
        return r;
    }

    void clear() {
        reports.clear();
    }
}
