public import Reporting
import Foundation

/// Somewhere alerts go. `deliver` runs on the alert center's worker thread, may block up to its own
/// timeout, and says whether the alert got through.
public protocol AlertSink: Sendable {
    /// Short name recorded with each delivered alert: `log`, `desktop`, `webhook`, `command`.
    var name: String { get }
    func deliver(_ alert: AlertRecord, json: String) -> Bool
}

extension AlertRecord {
    /// The JSON every sink sends: the stored fields plus `timestamp` (RFC 3339 UTC). Keys sorted.
    public var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(self),
              var object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { return "{}" }
        object["timestamp"] = Timestamp.rfc3339(time)
        guard let out = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else { return "{}" }
        return String(decoding: out, as: UTF8.self)
    }

    /// One line for people: severity, program, destination, rule.
    public var summary: String {
        let who = exe ?? process ?? "unattributed"
        return "[\(severity)] \(Sanitizer.clean(who)) → \(Sanitizer.clean(destination)) (rule \(Sanitizer.clean(rule)))"
    }
}
