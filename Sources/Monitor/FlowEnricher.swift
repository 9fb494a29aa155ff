public import Flows
import ProcessAttribution
public import Reporting
import Synchronization

/// Turns flow records into report rows facing this machine, with their process (when attribution
/// runs) — the one place where a record becomes a row, for `capture`, `run` and the daemon.
public final class FlowEnricher: Sendable {
    private let local: Mutex<LocalNetwork>
    public let attribution: AttributionWorker?

    public init(local: LocalNetwork, attribution: AttributionWorker?) {
        self.local = Mutex(local)
        self.attribution = attribution
    }

    public func updateLocalNetwork(_ network: LocalNetwork) {
        local.withLock { $0 = network }
        attribution?.updateLocalNetwork(network)
    }

    /// The row of a flow; `ended` flows are forgotten by attribution afterwards.
    public func row(_ record: FlowRecord, ended: Bool) -> FlowRow {
        var row = FlowRow(record, local: local.withLock { $0 })
        if let attribution {
            row.apply(attribution.attribution(of: record, ended: ended))
        }
        return row
    }
}
