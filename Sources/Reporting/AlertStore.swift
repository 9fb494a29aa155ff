/// Where raised alerts are kept, with the sinks that took each one (the flow database, in the daemon).
public protocol AlertStore: AnyObject, Sendable {
    /// Stores an alert and returns its row id.
    func insertAlert(_ alert: AlertRecord) throws -> Int64
    /// Records which sinks took the alert stored as `id`.
    func setAlertDelivered(id: Int64, sinks: [String]) throws
}
