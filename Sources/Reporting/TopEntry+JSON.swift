/// `top --once --format json`: one snapshot for scripts.
extension TopEntry {
    /// The snapshot as one JSON object: when, from where, the health figures, and one object per row.
    public static func snapshotJSON(
        _ entries: [TopEntry], view: TopView, status: TopStatus, started: Int64, now: Int64
    ) -> String {
        var w = JSONWriter()
        w.beginObject()
        w.key("time"); w.string(Timestamp.rfc3339(now))
        w.key("since"); w.string(Timestamp.rfc3339(started))
        w.key("source"); w.string(status.source)
        w.key("view"); w.string(view.rawValue)
        w.key("coverage"); w.beginObject()
        w.key("bytes"); w.int(status.bytes)
        w.key("attributed_bytes"); w.int(status.attributedBytes)
        w.key("attributed_percent"); w.double(status.coveragePercent)
        w.key("dropped"); w.int(status.dropped)
        w.key("interface_dropped"); w.int(status.interfaceDropped)
        w.key("queue_dropped"); w.int(status.queueDropped)
        w.key("events_dropped"); w.int(status.eventDropped)
        w.key("attribution"); w.string(status.attribution)
        w.endObject()
        w.key("rows"); w.beginArray()
        for e in entries {
            w.beginObject()
            w.key(view.rawValue); w.string(e.key)
            w.key("label"); w.string(e.label)
            w.key("rate_out"); w.double((e.rateOut * 10).rounded() / 10)
            w.key("rate_in"); w.double((e.rateIn * 10).rounded() / 10)
            w.key("total_out"); w.int(e.totalOut)
            w.key("total_in"); w.int(e.totalIn)
            w.key("flows"); w.int(e.flows)
            w.key(view == .destination ? "programs" : "destinations"); w.beginArray()
            for r in e.related.prefix(20) { w.string(r) }
            w.endArray()
            w.key("alerts"); w.int(e.alerts)
            w.key("unattributed"); w.bool(e.unattributed)
            w.endObject()
        }
        w.endArray()
        w.endObject()
        return w.text + "\n"
    }
}
